#!/bin/bash
# bench/verify/run.sh [FIXTURES_DIR] - how long one signed PDF takes to
# verify with kyso, next to the independent verifiers pdfsig (poppler/NSS)
# and mutool (MuPDF) and to the floor, sha256sum of the same bytes.
#
# For each of pdf/big-100k-signed.pdf, big-1m-signed.pdf, big-10m-signed.pdf
# (signed by pdfsig in tests/fixtures/mkfixtures.sh) it makes COPIES paths
# to the file (hard links: the same bytes, warm in the page cache for every
# tool) and times:
#   kyso     one `kyso verify --json` process over all COPIES paths, so the
#            per-document figure leaves out process start-up;
#   kyso/1   one kyso process per path (what a shell loop would cost);
#   pdfsig   one process per path (it takes one file), NSS db trusting the
#            test root when the fixtures made one, else -nocert;
#   mutool   `mutool sign -v`, one process per path;
#   sha256   one sha256sum process over all COPIES paths: the floor;
#   ossl     one `openssl dgst -sha256` over the same paths: the floor with
#            the SHA-256 code kyso itself uses (OpenSSL's, SHA-NI where the
#            CPU has it; coreutils' own is several times slower).
# Each measurement is the median of RUNS runs after one warm-up, with
# hyperfine when it is installed, else with `date +%s.%N`.  It then prints a
# markdown table (ms per document), the ratios the issue asks for, and the
# peak RSS of the kyso run (GNU time).  Results also go to bench/out/.
#
# FIXTURES_DIR defaults to bench/out/fixtures, built with
# tests/fixtures/mkfixtures.sh when it has no big-10m-signed.pdf.
# Environment: KYSO (the kyso binary; default milter/kyso or
# build/milter/kyso), COPIES (default 50), RUNS (default 5), SIZES
# (default "100k 1m 10m").  Never writes outside bench/out/.
set -eu -o pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$TOP/bench/out
COPIES=${COPIES:-50}
RUNS=${RUNS:-5}
SIZES=${SIZES:-100k 1m 10m}

say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 2; }

# find_kyso - print the kyso binary to measure, or die.
find_kyso() {
    local k
    for k in "${KYSO:-}" "$TOP/milter/kyso" "$TOP/build/milter/kyso"; do
        [ -n "$k" ] && [ -x "$k" ] && { echo "$k"; return; }
    done
    die "no kyso binary: build it (autoreconf -fi && ./configure && make) or set KYSO"
}

# fixtures_dir [DIR] - print the fixtures to use, building the default
# ones with mkfixtures.sh when they are missing.
fixtures_dir() {
    local fx=${1:-$OUT/fixtures}
    if [ ! -f "$fx/pdf/big-10m-signed.pdf" ]; then
        [ $# -ge 1 ] && die "$fx has no pdf/big-10m-signed.pdf: not a fixtures dir"
        say "building fixtures in $fx"
        mkdir -p "$fx"
        sh "$TOP/tests/fixtures/mkfixtures.sh" "$fx" >&2 || die "mkfixtures.sh failed"
    fi
    (cd "$fx" && pwd)
}

# machine - one line describing this machine.
machine() {
    local cpu mem
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
    mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    echo "$(nproc) CPUs, ${cpu:-unknown CPU}, $mem RAM, $(uname -sr)"
}

# make_copies SIZE - hard-link COPIES paths to big-SIZE-signed.pdf in
# OUT/copies/SIZE (a copy when links fail) and print the list file.
make_copies() {
    local s=$1 src=$FX/pdf/big-$1-signed.pdf dir=$OUT/copies/$1 i
    [ -f "$src" ] || die "missing $src"
    rm -rf "$dir"
    mkdir -p "$dir"
    for i in $(seq -w 1 "$COPIES"); do
        ln "$src" "$dir/doc-$i.pdf" 2>/dev/null || cp "$src" "$dir/doc-$i.pdf"
    done
    ls "$dir"/doc-*.pdf >"$dir.list"
    echo "$dir.list"
}

# measure CMD - print the median wall time, in seconds, of the bash
# command string CMD over RUNS runs after one warm-up.
measure() {
    local cmd=$1 j t0 t1 i
    if command -v hyperfine >/dev/null; then
        j=$OUT/hyperfine.json
        hyperfine --shell=bash --warmup 1 --runs "$RUNS" --style none \
            --export-json "$j" -- "$cmd" >/dev/null 2>&1 || die "hyperfine failed: $cmd"
        jq -r '.results[0].median' "$j"
        return
    fi
    bash -c "$cmd"
    for i in $(seq "$RUNS"); do
        t0=$(date +%s.%N)
        bash -c "$cmd"
        t1=$(date +%s.%N)
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }'
    done | sort -g | awk '{ t[NR] = $1 } END { print (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }'
}

# per_doc SECONDS - milliseconds per document, two decimals.
per_doc() { awk -v t="$1" -v n="$COPIES" 'BEGIN { printf "%.2f", t * 1000 / n }'; }
# ratio A B - A / B, two decimals ("-" when B is zero).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# sanity LIST - the verdict of each tool on the first file, on stderr, so a
# bench of a tool that fails early is not taken for a fast one.
sanity() {
    local f
    f=$(head -1 "$1")
    # KYSO_TRUST and PDFSIG_OPTS are option lists: split on purpose
    # shellcheck disable=SC2086
    say "  kyso:   $("$KYSO_BIN" verify --json $KYSO_TRUST "$f" 2>&1 | head -c 160)"
    say "  pdfsig: $(pdfsig $PDFSIG_OPTS "$f" 2>&1 | grep -m1 -i 'Signature Validation' | sed 's/^ *- *//')"
    say "  mutool: $(mutool sign -v "$f" 2>&1 | grep -E 'since signing|error' | sed 's/^[[:space:]]*//' | paste -sd ';')"
}

# bench_size SIZE - measure every tool on SIZE and print one table row.
bench_size() {
    local s=$1 list files k k1 p m h o rss
    list=$(make_copies "$s")
    files=$(tr '\n' ' ' <"$list")
    say "big-$s-signed.pdf, $COPIES copies, $RUNS runs each"
    sanity "$list"
    k=$(measure "'$KYSO_BIN' verify --json $KYSO_TRUST $files >/dev/null 2>&1 || true")
    k1=$(measure "for f in $files; do '$KYSO_BIN' verify --json $KYSO_TRUST \$f >/dev/null 2>&1 || true; done")
    p=$(measure "for f in $files; do pdfsig $PDFSIG_OPTS \$f >/dev/null 2>&1 || true; done")
    m=$(measure "for f in $files; do mutool sign -v \$f >/dev/null 2>&1 || true; done")
    h=$(measure "sha256sum $files >/dev/null")
    o=$(measure "openssl dgst -sha256 $files >/dev/null")
    rss="-"
    if [ -x /usr/bin/time ]; then
        # shellcheck disable=SC2086
        rss=$(/usr/bin/time -f %M "$KYSO_BIN" verify --json $KYSO_TRUST $files 2>&1 >/dev/null | tail -1)
        rss=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
    fi
    echo "| $s | $(per_doc "$k") | $(per_doc "$k1") | $(per_doc "$p") | $(per_doc "$m") | $(per_doc "$h") | $(per_doc "$o") | $(ratio "$p" "$k") | $(ratio "$k" "$h") | $(ratio "$k" "$o") | $rss |"
    echo "$s $k $p $h $o" >>"$OUT/ratios"
}

# verdicts - the issue's targets against the measured ratios.
verdicts() {
    awk '{ r = $3 / $2; printf "- %s: pdfsig/kyso = %.1f (target >= 5): %s\n", $1, r, (r >= 5) ? "met" : "NOT met" }
         $1 == "10m" { f = $2 / $4; g = $2 / $5
                       printf "- 10m: kyso/floor = %.2f against sha256sum, %.2f against openssl dgst (target <= 1.5): %s, %s\n",
                              f, g, (f <= 1.5) ? "met" : "NOT met", (g <= 1.5) ? "met" : "NOT met" }' "$OUT/ratios"
}

main() {
    local s
    [ $# -le 1 ] || die "usage: bench/verify/run.sh [FIXTURES_DIR]"
    for s in pdfsig mutool sha256sum openssl awk; do
        command -v $s >/dev/null || die "$s not found"
    done
    mkdir -p "$OUT"
    KYSO_BIN=$(find_kyso)
    FX=$(fixtures_dir "$@")
    KYSO_TRUST="--trust-anchors $FX/pki/root.pem --intermediates $FX/pki/sub.pem --crl $FX/pki/crl"
    if [ -d "$FX/nss" ]; then PDFSIG_OPTS="-nssdir sql:$FX/nss"; else PDFSIG_OPTS="-nocert"; fi
    rm -f "$OUT/ratios"
    {
        echo "kyso verify, $(date -u +%Y-%m-%d), $(machine)"
        echo "timer: $(command -v hyperfine >/dev/null && echo hyperfine || echo 'date +%s.%N'), median of $RUNS runs, $COPIES copies per size"
        echo
        echo "| size | kyso ms/doc | kyso, 1 process/doc | pdfsig ms/doc | mutool ms/doc | sha256sum ms/doc | openssl dgst ms/doc | pdfsig/kyso | kyso/sha256sum | kyso/openssl dgst | kyso peak RSS MB |"
        echo "|---|---|---|---|---|---|---|---|---|---|---|"
        for s in $SIZES; do bench_size "$s"; done
        echo
        verdicts
    } | tee "$OUT/results.md"
    rm -rf "$OUT/copies" "$OUT/hyperfine.json"
}

main "$@"
