#!/bin/bash
# bench/mailpath/run.sh [--distinct K] [--sender smtp-source|python] [FIXTURES_DIR]
#
# The mail-path benchmark: smtp-source -> a private Postfix (smtpd with the
# milter under test) -> smtp-sink, on loopback. For each variant
#   none               no milter
#   null-unix          bench/mailpath/nullmilter.c on a unix socket: reads the
#                      whole message, does nothing (the ceiling of any milter
#                      that reads the body)
#   kyso-unix          kyso-milter on a unix socket  (Socket local:PATH)
#   kyso-inet          kyso-milter on TCP            (Socket inet:PORT@127.0.0.1)
#   kyso-unix-nocache  kyso-milter, unix socket, VerifyCacheSize 0
#   opendkim-unix      OpenDKIM signing the same mail, unix socket
#   opendkim-inet      OpenDKIM signing the same mail, TCP
# and each kind of mail (5k: a 5 KB text/plain message; 1m: a message
# carrying the 1 MB signed fixture pdf/big-1m-signed.pdf, base64, 1.36 MB on
# the wire; 10m, not in the default SIZES: big-10m-signed.pdf, 13.6 MB) at
# each concurrency (smtp-source -s), it measures the wall time from the
# start of smtp-source until smtp-sink has counted every message, and the
# milter's peak RSS (VmHWM, reset before each cell) and CPU time. Every
# variant runs RUNS times, interleaved (run 1 of every variant, then run
# 2...), one milter process per variant and run; the table gives the
# medians.
#
# Before each timed cell one message goes to a second smtp-sink that keeps
# it, and the script checks that the milter did its job: kyso-milter's
# X-Kyso-Document says verdict=valid (1m) and its decision records say
# action accept, reason ok, for every message of the cell; OpenDKIM's
# DKIM-Signature is there with d=sotttt.demo.gov.vn. A cell that fails a
# check stops the run: a benchmark of a milter that did not check is
# worthless. Then CONC untimed warm-up messages, then the timed round.
#
# --distinct K  the 1m mail cycles through K different signed 1 MB PDFs
#               (made once with pdfgen.py and pdfsig, as mkfixtures.sh makes
#               big-1m-signed.pdf, in bench/out/mailpath/pdf-K/); smtp-source
#               sends one file per run, so send.py (Python, threads) sends,
#               going on through the list from one call to the next. Without
#               it every 1m message carries the SAME PDF, which the
#               verification cache (VerifyCacheSize) serves after the first.
#               With the defaults a milter process gets 213 1m messages, so
#               K >= 213 makes every one of them new to its cache.
# --sender S    smtp-source (default) or python (send.py), e.g. to compare a
#               --distinct run with a same-PDF run sent the same way.
#
# Environment: RUNS (3), CONC ("1 10"), SIZES ("5k 1m"), VARIANTS (the seven
# above), N_5K (200), N_1M (100), N_10M (20), KYSO_MILTER (default
# build/milter/kyso-milter or milter/kyso-milter; copied into the work
# directory first, so a rebuild during the run changes nothing), KEEP=1
# keeps the work directory. QUIET_MAX (15) and QUIET_WAIT (120): before each
# timed round the machine must be less than QUIET_MAX percent busy (other
# people's builds and fuzzers on a shared machine), waiting at most
# QUIET_WAIT seconds; a round after which it is busy is measured again.
# Needs root (Postfix's master), postfix, postfix-sqlite, opendkim,
# opendkim-tools, python3, jq; --distinct also needs pdfsig (poppler-utils).
#
# It must never touch the system Postfix or OpenDKIM (/etc/postfix, port 25,
# /etc/opendkim.conf): everything runs from a mktemp directory in /tmp, on
# 127.0.0.1, and only processes it started are signalled (by their pid).
# Results go to stdout and bench/out/mailpath/ (results.md, results.tsv);
# nothing else is written outside the work directory.
set -u -o pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$TOP/bench/mailpath
OUT=$TOP/bench/out/mailpath
RUNS=${RUNS:-3}
CONC=${CONC:-1 10}
SIZES=${SIZES:-5k 1m}
VARIANTS=${VARIANTS:-none null-unix kyso-unix kyso-inet kyso-unix-nocache opendkim-unix opendkim-inet}
N_5K=${N_5K:-200}
N_1M=${N_1M:-100}
N_10M=${N_10M:-20}
QUIET_MAX=${QUIET_MAX:-15}
QUIET_WAIT=${QUIET_WAIT:-120}
FROM=vanthu@sotttt.demo.gov.vn
TO=tiepnhan@ubnd.demo.gov.vn
CHECK_TO=check@ubnd.demo.gov.vn
DISTINCT=0
SENDER=smtp-source

say() { echo "mailpath: $*" >&2; }
die() { say "$*"; exit 2; }

# usage - print the synopsis and exit 64.
usage() {
    echo "usage: run.sh [--distinct K] [--sender smtp-source|python] [FIXTURES_DIR]" >&2
    exit 64
}

# parse_args ARGS... - set DISTINCT, SENDER and FX from the command line;
# exits 64 on a usage error.
parse_args() {
    FX=
    while [ $# -gt 0 ]; do
        case $1 in
            --distinct) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || usage
                DISTINCT=$2; shift 2 ;;
            --sender) [ $# -ge 2 ] || usage
                case $2 in smtp-source | python) SENDER=$2 ;; *) usage ;; esac
                shift 2 ;;
            -*) usage ;;
            *) [ -z "$FX" ] || usage; FX=$1; shift ;;
        esac
    done
    [ "$DISTINCT" -gt 0 ] && SENDER=python
    return 0
}

# find_tools - check that every program the run needs is there and set
# MILTER_BIN and FX (the FIXTURES_DIR argument, else the first of
# build/tests/out/fixtures, tests/out/fixtures, bench/out/fixtures that has
# the signed PDFs, else bench/out/fixtures built with mkfixtures.sh); dies
# naming the package to install otherwise.
find_tools() {
    local t
    [ "$(id -u)" = 0 ] || die "needs root (a private Postfix's master starts as root)"
    for t in /usr/sbin/postfix /usr/sbin/smtp-source /usr/sbin/smtp-sink; do
        [ -x "$t" ] || die "no $t (apt-get install postfix postfix-sqlite)"
    done
    for t in opendkim opendkim-genkey; do
        command -v $t >/dev/null || die "no $t (apt-get install opendkim opendkim-tools)"
    done
    command -v jq >/dev/null || die "no jq (apt-get install jq)"
    if [ "$DISTINCT" -gt 0 ]; then
        command -v pdfsig >/dev/null || die "no pdfsig (apt-get install poppler-utils)"
    fi
    MILTER_BIN=
    for t in "${KYSO_MILTER:-}" "$TOP/build/milter/kyso-milter" "$TOP/milter/kyso-milter"; do
        [ -n "$t" ] && [ -x "$t" ] && { MILTER_BIN=$t; break; }
    done
    [ -n "$MILTER_BIN" ] || die "no kyso-milter: build it (make -C build) or set KYSO_MILTER"
    [ -z "$FX" ] || [ -f "$FX/pdf/big-1m-signed.pdf" ] || die "$FX has no pdf/big-1m-signed.pdf"
    for t in "$FX" "$TOP/build/tests/out/fixtures" "$TOP/tests/out/fixtures" \
        "$TOP/bench/out/fixtures"; do
        [ -n "$t" ] && [ -f "$t/pdf/big-1m-signed.pdf" ] && { FX=$(cd "$t" && pwd); return; }
    done
    say "building fixtures in bench/out/fixtures"
    mkdir -p "$TOP/bench/out/fixtures" &&
        sh "$TOP/tests/fixtures/mkfixtures.sh" "$TOP/bench/out/fixtures" >&2 ||
        die "mkfixtures.sh failed"
    FX=$TOP/bench/out/fixtures
}

# machine - one line describing this machine.
machine() {
    local cpu mem
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
    mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    echo "$(nproc) CPUs, ${cpu:-unknown CPU}, $mem RAM, $(uname -sr)"
}

. "$TOP/tests/e2e/postfix.sh"
. "$HERE/lib.sh"

parse_args "$@"
find_tools
W=$(mktemp -d /tmp/kyso-bench-mailpath.XXXXXX) || die "mktemp failed"
chmod 0755 "$W"
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$OUT" "$W/store" "$W/dump" "$W/dkim" || die "cannot create $W"
chown nobody "$W/dump"
BUILD="$MILTER_BIN of $(date -u -r "$MILTER_BIN" '+%Y-%m-%d %H:%M') UTC, tree $(git -C "$TOP" \
    rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$TOP" diff --quiet HEAD -- lib milter \
    2>/dev/null || echo ' + uncommitted changes in lib/ milter/')"
mkdir -p "$W/bin" && cp "$MILTER_BIN" "$W/bin/kyso-milter" || die "cannot copy $MILTER_BIN"
MILTER_BIN=$W/bin/kyso-milter
say "work directory $W; kyso-milter $BUILD; fixtures $FX"

make_messages
make_dkim_key
start_instance
TSV=$OUT/results.tsv
printf 'run\tvariant\tsize\tconc\tcount\twall_s\tsent_s\tidle_kb\thwm_kb\tcpu_ms\tbusy_pct\n' \
    >"$TSV"
t_start=$SECONDS
for run in $(seq 1 "$RUNS"); do
    for v in $VARIANTS; do
        start_milter "$v"
        use_variant "$v" || die "cannot switch Postfix to $v"
        for s in $SIZES; do
            for c in $CONC; do
                run_cell "$run" "$v" "$s" "$c" >>"$TSV" || die "cell $v $s c=$c failed (see $W)"
            done
        done
        stop_milter
    done
done
say "measured in $((SECONDS - t_start)) s"
report "$TSV" | tee "$OUT/results.md"
