#!/bin/bash
# run-fuzzers.sh FIXTURES_DIR [SECONDS] - build the libFuzzer targets of
# tests/fuzz with clang, ASan and UBSan in a separate build tree
# (build-fuzz/, or $KYSO_FUZZ_BUILD), seed each from the test fixtures, run
# each for SECONDS seconds (default 30), one after the other, and exit 1 if
# any of them crashed, leaked, ran out of memory or timed out, naming the
# input that did it.  Exit 2 on a usage or build error.
#
# FIXTURES_DIR is what tests/fixtures/mkfixtures.sh made (the test suite
# leaves it in build/tests/out/fixtures); the seeds committed in
# tests/fuzz/seeds/ (small hand-written files, past crashes) are always
# added, so a missing fixtures dir still gives a useful run.  Its pki/ becomes the fuzzers' trust
# store (KYSO_FUZZ_ANCHORS, ..._INTERMEDIATES, ..._CRL) unless those are set.
#
# Environment: KYSO_FUZZ_TARGETS (default "fuzz-pdf fuzz-cms fuzz-mime
# fuzz-sniff fuzz-config fuzz-json fuzz-sign fuzz-ocsp"), KYSO_FUZZ_BUILD (default TOP/build-fuzz),
# KYSO_FUZZ_WERROR (1: configure --enable-werror; default 1), KYSO_FUZZ_JOBS
# (make -j).
#
# Layout of the build tree, kept between runs:
#   obj/             the configured build      corpus/NAME/  what libFuzzer found
#   seeds/NAME/      seeds, remade each run    crashes/NAME/ crash-*, leak-*, timeout-*
#   logs/NAME.log    the last run's output     src/          source copy (see below)
# It never touches the source tree, the fixtures or another build tree.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${KYSO_FUZZ_BUILD:-$TOP/build-fuzz}
TARGETS=${KYSO_FUZZ_TARGETS:-fuzz-pdf fuzz-cms fuzz-mime fuzz-sniff fuzz-config fuzz-json fuzz-sign fuzz-ocsp}
WERROR=${KYSO_FUZZ_WERROR:-1}
JOBS=${KYSO_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}

# say MSG... - one progress line on stderr.
say() { echo "run-fuzzers: $*" >&2; }
# die MSG... - stop with a usage or build error (exit 2).
die() { say "$*"; exit 2; }

# max_len_of TARGET - the largest input, in bytes, worth giving TARGET.
max_len_of() {
    case $1 in
    fuzz-pdf | fuzz-sign) echo $((2 * 1024 * 1024)) ;;
    fuzz-cms) echo $((64 * 1024)) ;;
    *) echo $((1024 * 1024)) ;;
    esac
}

# source_dir - print a source tree that can be configured out of tree.
# A tree configured in place (config.status at the top, objects next to
# the sources) cannot be: automake refuses, and make would find the
# uninstrumented in-tree objects through VPATH.  Then the tracked and
# new-but-not-ignored files are copied to BUILD/src (autoreconf'd once).
source_dir() {
    if [ ! -f "$TOP/config.status" ] && [ -x "$TOP/configure" ]; then
        echo "$TOP"
        return
    fi
    say "source tree is configured in place (or has no configure): using a copy in $BUILD/src"
    mkdir -p "$BUILD/src/m4"
    (cd "$TOP" && git ls-files -z -co --exclude-standard) |
        (cd "$TOP" && tar -cf - --null -T -) | (cd "$BUILD/src" && tar -xf -)
    # tar keeps modification times, so make rebuilds only what changed;
    # the generated Makefile's own rules rerun automake when Makefile.am does
    if [ ! -x "$BUILD/src/configure" ]; then
        (cd "$BUILD/src" && autoreconf -fi) >"$BUILD/logs/autoreconf.log" 2>&1 ||
            { tail -20 "$BUILD/logs/autoreconf.log" >&2; die "autoreconf failed"; }
    fi
    echo "$BUILD/src"
}

# build_targets - configure BUILD/obj once (clang, fuzzers, sanitizers),
# then make the fuzz targets only.  Dies on failure with the log's tail.
build_targets() {
    local src opts t progs=""
    src=$(source_dir)
    mkdir -p "$BUILD/obj"
    if [ ! -f "$BUILD/obj/Makefile" ] || [ "$src" != "$(cat "$BUILD/obj/.srcdir" 2>/dev/null)" ]; then
        opts="--enable-fuzzers --enable-sanitizers"
        [ "$WERROR" = 1 ] && opts="$opts --enable-werror"
        say "configure $opts (CC=clang)"
        # shellcheck disable=SC2086
        (cd "$BUILD/obj" && "$src/configure" CC=clang CFLAGS="-g -O1" $opts) \
            >"$BUILD/logs/configure.log" 2>&1 ||
            { tail -20 "$BUILD/logs/configure.log" >&2; die "configure failed (log: $BUILD/logs/configure.log)"; }
        echo "$src" >"$BUILD/obj/.srcdir"
    fi
    for t in $TARGETS; do progs="$progs tests/fuzz/$t"; done
    say "make$progs"
    # shellcheck disable=SC2086
    make -C "$BUILD/obj" -j"$JOBS" $progs >"$BUILD/logs/make.log" 2>&1 ||
        { grep -E 'error|Error' "$BUILD/logs/make.log" | head -30 >&2; die "build failed (log: $BUILD/logs/make.log)"; }
}

# add_seeds DEST MAXLEN FILE... - copy each existing FILE of at most
# MAXLEN bytes into DEST, named after its path so names do not collide.
add_seeds() {
    local dest=$1 max=$2 f
    shift 2
    for f in "$@"; do
        [ -f "$f" ] || continue
        [ "$(stat -c %s "$f")" -le "$max" ] || continue
        cp "$f" "$dest/$(echo "${f#"$FIXTURES"/}" | tr '/' '_')"
    done
}

# make_seeds TARGET - fill BUILD/seeds/TARGET from the fixtures and from
# tests/fuzz/seeds/NAME (hand-written seeds and past crashes, always run).
make_seeds() {
    local t=$1 dir=$BUILD/seeds/$1 max i f
    max=$(max_len_of "$t")
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ -d "$FIXTURES" ]; then
        # fixture paths have no spaces: word splitting of find is intended
        # shellcheck disable=SC2046,SC2059
        case $t in
        fuzz-pdf) add_seeds "$dir" "$max" $(find "$FIXTURES/pdf" -name '*.pdf' 2>/dev/null | sort) ;;
        fuzz-cms) add_seeds "$dir" "$max" "$FIXTURES"/cms/*.p7s "$FIXTURES"/cms/*.p7m ;;
        fuzz-mime) add_seeds "$dir" "$max" "$FIXTURES"/mail/*.eml ;;
        fuzz-ocsp)
            # selector 2 and a fixture CRL in DER; selector 3 and a responders table
            i=0
            for f in "$FIXTURES"/pki/crl/*.crl "$FIXTURES"/pki/crl-expired/*.crl; do
                [ -f "$f" ] || continue
                { printf '\002'; openssl crl -in "$f" -outform DER 2>/dev/null; } >"$dir/seed-$i"
                i=$((i + 1))
            done
            printf '\003# issuer sha256  url\n* http://127.0.0.1:8080/ocsp\n' >"$dir/seed-table" ;;
        fuzz-sign)
            # one byte choosing placement and kind, then a PDF
            i=0
            for f in $(find "$FIXTURES/pdf" -maxdepth 1 -name '*.pdf' -size -512k 2>/dev/null |
                       sort); do
                { printf "\\$(printf %03o $((i % 16)))"; cat "$f"; } >"$dir/seed-$i"
                i=$((i + 1))
            done ;;
        fuzz-config) add_seeds "$dir" "$max" "$TOP"/conf/kyso-milter.conf ;;
        fuzz-ocsp)
            # one byte choosing OCSP (0, 1), CRL (2) or table (3), then the bytes
            i=0
            for f in $(find "$FIXTURES" -maxdepth 2 \( -name '*.crl' -o -name '*.der' \) \
                           -size -256k 2>/dev/null | sort); do
                { printf "\\$(printf %03o $((i % 3)))"; cat "$f"; } >"$dir/seed-$i"
                i=$((i + 1))
            done ;;
        fuzz-sniff)
            # one byte choosing the declared name and type, then a file
            i=0
            for f in $(find "$FIXTURES/pdf" "$FIXTURES/cms" "$FIXTURES/mail" -maxdepth 1 -type f \
                           -size -256k 2>/dev/null | sort); do
                { printf "\\$(printf %03o $((i % 8)))"; cat "$f"; } >"$dir/seed-$i"
                i=$((i + 1))
            done ;;
        esac
    fi
    [ -n "$(ls -A "$dir")" ] || say "$t: no fixtures in $FIXTURES: hand-written seeds only"
    # the committed seeds always run: they hold the regression inputs
    for f in "$TOP/tests/fuzz/seeds/${t#fuzz-}"/*; do
        [ -f "$f" ] && cp "$f" "$dir/repo-${f##*/}"
    done
    return 0
}

# run_target TARGET - fuzz TARGET for SECONDS seconds.  Returns 0 when it
# ended cleanly, 1 when it found something (the inputs are named on stderr).
run_target() {
    local t=$1 log=$BUILD/logs/$1.log rc=0
    mkdir -p "$BUILD/corpus/$t" "$BUILD/crashes/$t"
    say "$t: $(ls "$BUILD/seeds/$t" | wc -l) seeds, ${SECONDS_EACH}s"
    "$BUILD/obj/tests/fuzz/$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 \
        -timeout=10 -max_len="$(max_len_of "$t")" -print_final_stats=1 \
        -artifact_prefix="$BUILD/crashes/$t/" \
        "$BUILD/corpus/$t" "$BUILD/seeds/$t" >"$log" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ]; then
        grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$log" |
            sed "s/^/run-fuzzers: $t: /" >&2 || true
        return 0
    fi
    say "$t: FAILED (exit $rc); log: $log"
    grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY:' "$log" | head -5 >&2 || true
    grep -E 'Test unit written to' "$log" | sed 's/.*Test unit written to /run-fuzzers: crash input: /' >&2 || true
    return 1
}

main() {
    local t failed=""
    { [ $# -ge 1 ] && [ $# -le 2 ]; } || die "usage: run-fuzzers.sh FIXTURES_DIR [SECONDS]"
    FIXTURES=$1
    SECONDS_EACH=${2:-30}
    case $SECONDS_EACH in '' | *[!0-9]*) die "SECONDS must be a number" ;; esac
    command -v clang >/dev/null || die "clang not found: apt-get install clang"
    [ -d "$FIXTURES" ] || say "no fixtures at $FIXTURES: using tests/fuzz/seeds only"
    mkdir -p "$BUILD/logs"
    FIXTURES=$(cd "$FIXTURES" 2>/dev/null && pwd || echo "$FIXTURES")

    build_targets

    # the trust store: the fixtures' test PKI reaches the chain code
    if [ -z "${KYSO_FUZZ_ANCHORS:-}" ] && [ -f "$FIXTURES/pki/root.pem" ]; then
        export KYSO_FUZZ_ANCHORS=$FIXTURES/pki/root.pem
        [ -f "$FIXTURES/pki/sub.pem" ] && export KYSO_FUZZ_INTERMEDIATES=$FIXTURES/pki/sub.pem
        [ -d "$FIXTURES/pki/crl" ] && export KYSO_FUZZ_CRL=$FIXTURES/pki/crl
    fi
    export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
    export LSAN_OPTIONS=suppressions=$TOP/tests/lsan.supp:print_suppressions=0
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

    for t in $TARGETS; do
        make_seeds "$t"
        run_target "$t" || failed="$failed $t"
    done
    if [ -n "$failed" ]; then
        say "found something in:$failed (inputs in $BUILD/crashes/)"
        exit 1
    fi
    say "all clean: $TARGETS"
}

main "$@"
