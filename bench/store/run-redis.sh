#!/bin/bash
# run-redis.sh [DIR] - `kyso log` over 1,000,000 decision records on the
# Redis backend: the records of bench/store/run.sh (gen-records.py, made
# in DIR when missing) are loaded into the stream kyso:decisions of a
# redis-server this script starts on a free loopback port (entry IDs from
# the records' own times, as the milter's appends would have them), then
# run.sh times the same queries with STORE=redis://...&ro.  "cold" there
# means the kernel's page cache dropped: Redis holds everything in memory,
# so it measures the kyso binary's start only.  After loading, the decision
# indexes (doc/redis.md) are built with "kyso reindex" (the KYSO binary),
# as if a gateway had written them with each record; INDEX=0 skips that
# (the scan only).
#
# Environment: as run.sh (N, RUNS, COLD_RUNS, KYSO).  Results on stdout and
# in bench/out/store-results-redis.md.  Needs redis-server, redis-cli,
# python3, jq, and memory for the stream (about 2 GB per million records).
# Kills the redis-server it started, by its pid, when it ends.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${1:-$TOP/bench/out/store}
N=${N:-1000000}
KYSO_BIN=${KYSO:-$TOP/build/milter/kyso}
TMP=$(mktemp -d /tmp/kyso-bench-redis.XXXXXX)
rpid=
cleanup() {
    [ -n "$rpid" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

if [ ! -f "$DIR/bench-meta.json" ] || [ "$(jq -r .n "$DIR/bench-meta.json")" != "$N" ]; then
    echo "run-redis.sh: generating $N records in $DIR" >&2
    rm -rf "$DIR"
    python3 "$TOP/bench/store/gen-records.py" "$DIR" "$N"
fi

port=$((20000 + $$ % 10000))
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" \
    --logfile "$TMP/log" --daemonize no &
rpid=$!
for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done

# one XADD per record, ID = the record's time in ms (and a sequence within it)
t0=$(date +%s.%N)
python3 - "$DIR/decisions.jsonl" <<'PY' | redis-cli -p "$port" --pipe >"$TMP/load" 2>&1
import datetime, sys
out = sys.stdout.buffer
last, seq = -1, 0
def resp(*args):
    b = [b"*%d\r\n" % len(args)]
    for a in args:
        b.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(b)
for line in open(sys.argv[1], "rb"):
    rec = line.rstrip(b"\n")
    ts = rec[9:rec.index(b'"', 9)].decode()
    ms = int(datetime.datetime.fromisoformat(ts).timestamp() * 1000)
    seq = seq + 1 if ms <= last else 0
    last = max(ms, last)
    node = b"mx1" if b'"node":"mx1"' in rec[:200] else b"mx2"
    out.write(resp(b"XADD", b"kyso:decisions", b"%d-%d" % (last, seq), b"n", node, b"r", rec))
PY
t1=$(date +%s.%N)
echo "run-redis.sh: loaded $(redis-cli -p "$port" XLEN kyso:decisions) records in" \
    "$(echo "$t1 - $t0" | bc -l | cut -c1-5) s; used_memory" \
    "$(redis-cli -p "$port" INFO memory | sed -n 's/^used_memory_human:\(.*\)\r$/\1/p')" >&2

if [ "${INDEX:-1}" != 0 ]; then
    "$KYSO_BIN" reindex --store "redis://127.0.0.1:$port/0?spool=$TMP&retention=0" >&2 || exit 1
    echo "run-redis.sh: indexed; used_memory" \
        "$(redis-cli -p "$port" INFO memory | sed -n 's/^used_memory_human:\(.*\)\r$/\1/p'), " \
        "$(redis-cli -p "$port" DBSIZE) keys" >&2
fi

STORE="redis://127.0.0.1:$port/0" OUT="$TOP/bench/out/store-results-redis.md" \
    bash "$TOP/bench/store/run.sh" "$DIR"
