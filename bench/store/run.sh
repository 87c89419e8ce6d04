#!/bin/bash
# run.sh [DIR] - how long `kyso log` takes over a file store of 1,000,000
# decision records: the default view (last 50), --ref of a record in the
# middle, --sender of a sender seen 3 times, --since 1h (and two more:
# --domain with --action, --reason with --limit 0).  Each query runs
# once to warm the page cache, then RUNS times (median of wall time); then
# COLD_RUNS times each with a cold page cache when we may drop it (root:
# echo 3 > /proc/sys/vm/drop_caches; median again), else the cold column
# says "n/a".  Cold figures depend on the disk; in a VM the host's cache
# makes them vary from run to run.
#
# DIR (default bench/out/store) is made by gen-records.py when it is
# missing or holds another N.  Before timing, each query's answer is
# checked against what the generator recorded (bench-meta.json), so a
# fast wrong answer is not taken for a fast one.
#
# Environment: KYSO (default build/milter/kyso, else milter/kyso), N
# (records, default 1000000), RUNS (default 5), COLD_RUNS (default 3),
# STORE (default file:DIR; bench/store/run-redis.sh sets a redis:// one
# holding the same records), OUT (default bench/out/store-results.md).
# Results on stdout and in OUT.  Needs python3 and jq.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${1:-$TOP/bench/out/store}
N=${N:-1000000}
RUNS=${RUNS:-5}
COLD_RUNS=${COLD_RUNS:-3}
if [ -z "${KYSO:-}" ]; then
    KYSO=$TOP/build/milter/kyso
    [ -x "$KYSO" ] || KYSO=$TOP/milter/kyso
fi
[ -x "$KYSO" ] || { echo "run.sh: no kyso binary (set KYSO=...)" >&2; exit 2; }

say() { echo "run.sh: $*" >&2; }

if [ ! -f "$DIR/bench-meta.json" ] || [ "$(jq -r .n "$DIR/bench-meta.json")" != "$N" ]; then
    say "generating $N records in $DIR (about 40 s per million)"
    rm -rf "$DIR"
    python3 "$TOP/bench/store/gen-records.py" "$DIR" "$N"
fi
MID=$(jq -r .middle_ref "$DIR/bench-meta.json")
RARE=$(jq -r .rare_sender "$DIR/bench-meta.json")
LAST_HOUR=$(jq -r .last_hour "$DIR/bench-meta.json")
STORE=${STORE:-file:$DIR}

# now_s - wall clock, seconds with nanoseconds.
now_s() { date +%s.%N; }

# time_once ARGS... - seconds one `kyso log ARGS` takes (output discarded).
time_once() {
    local t0 t1
    t0=$(now_s)
    "$KYSO" log --store "$STORE" "$@" >/dev/null 2>&1 || true
    t1=$(now_s)
    echo "$t1 - $t0" | bc -l
}

# median - the median of the numbers on stdin.
median() {
    sort -g | awk '{v[NR] = $1}
        END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# can_drop - may we drop the page cache?
can_drop() { [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ]; }

# cold ARGS... - the median of COLD_RUNS runs, each after dropping the
# page cache, or n/a.
cold() {
    can_drop || { echo n/a; return; }
    for _ in $(seq "$COLD_RUNS"); do
        sync
        echo 3 >/proc/sys/vm/drop_caches
        time_once "$@"
    done | median
}

# rows ARGS... - how many records the query answers (--json lines).
rows() { "$KYSO" log --store "$STORE" --json "$@" 2>/dev/null | wc -l; }

# check NAME GOT WANT - the answer must be right before it is timed.
check() {
    if [ "$2" != "$3" ]; then
        say "$1: $2 records, want $3: not timing a wrong answer"
        exit 1
    fi
}

check "default view" "$(rows)" 50
check "--ref" "$(rows --ref "$MID")" 1
check "--sender" "$(rows --sender "$RARE")" 3
since_rows=$(rows --since 1h --limit 0)
# the generator counted the last hour when it ran; records only age since
[ "$since_rows" -le "$LAST_HOUR" ] && [ "$since_rows" -gt 0 ] ||
    { say "--since 1h: $since_rows records, want 1..$LAST_HOUR"; exit 1; }

# two more: filters the store can only narrow down (rounds of candidates),
# and every record of a reason (a full read with 1% of the lines parsed)
dom_rows=$(rows --domain sotc.khanhhoa.gov.vn --action reject)
reason_rows=$(rows --reason malformed --limit 0)

size=$(du -h "$DIR/decisions.jsonl" | cut -f1)
out=${OUT:-$TOP/bench/out/store-results.md}
mkdir -p "$TOP/bench/out"
{
    echo "$N records, $size, ${STORE%%[:?]*} store, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ);" \
        "median of $RUNS warm runs, of $COLD_RUNS cold ones"
    echo
    echo "| query | answer | warm s | cold s |"
    echo "|---|---|---|---|"
    while IFS='|' read -r name answer args; do
        # shellcheck disable=SC2086
        time_once $args >/dev/null
        warm=$(for _ in $(seq "$RUNS"); do time_once $args; done | median)
        # shellcheck disable=SC2086
        c=$(cold $args)
        printf '| `kyso log%s` | %s | %.3f | %s |\n' "${args:+ $args}" "$answer" "$warm" \
            "$([ "$c" = n/a ] && echo n/a || printf %.3f "$c")"
    done <<EOF
default|50 rows|
ref|1 row|--ref $MID
sender|3 rows|--sender $RARE
since|$since_rows rows|--since 1h --limit 0
domain|$dom_rows rows|--domain sotc.khanhhoa.gov.vn --action reject
reason|$reason_rows rows|--reason malformed --limit 0
EOF
} | tee "$out"
