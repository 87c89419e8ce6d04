#!/bin/bash
# run-redis.sh - the Redis store (lib/store-redis.c) against real redis-server
# and Sentinel processes that this script starts on loopback ports, with
# appendonly yes and appendfsync always (the setting doc/redis.md asks for).
# The driver tests/unit/test-store-redis appends and reads back; this script
# kills, slows and fails over the servers in between, and counts the streams
# itself with redis-cli.  TAP on stdout.
#
#   1  records from several threads all there, in order; old entries trimmed
#   2  Redis SIGKILLed in the middle of 2000 appends, then restarted
#   3  Redis down when the store closes: the spool is replayed by the next one
#   4  Redis asleep (DEBUG SLEEP): appends do not wait
#   5  AUTH with an ACL user (doc/redis.md's ACL), wrong passwords refused
#   6  store_query filters and store_follow
#   7  Sentinel: SENTINEL FAILOVER mid-run, then the master SIGKILLed mid-run
#   8  shared state: caches (TTL), rate limit over two stores, counters
#   9  Redis stopped: cache lookups miss at once, "down" told once; "up"
#      told once when it is back
#  10  per-organisation counters of tests/report's 4,000 records: kyso
#      report --from-counters prints the numbers mkrecords.py worked out
#  11  the decision indexes: kyso log over tests/log's records gives the
#      same rows from a file store and from Redis, half of them stored
#      before the indexes (scanned), half through the writer (indexed),
#      then all indexed by store_reindex; the index is what is read; index
#      keys expire with LogRetention; an ACL without the index commands
#      loses no record and no row
#  12  the revocation cache shared through Redis: process A checks a
#      certificate against a local `openssl ocsp` responder (its CA by the
#      root's CRL, given as embedded data); with the
#      responder stopped, process B (empty cache) checks it from A's answer
#      in Redis; with that key deleted, B gets revocation_unknown
#
# Every process it starts is killed on exit, failure or interrupt, and its
# temporary folder removed.  Never touches a Redis it did not start.
set -u

top_builddir=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)/build}
DRIVER=$top_builddir/tests/unit/test-store-redis

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    echo "1..0 # SKIP redis-server not installed (apt-get install redis-server)"
    exit 0
fi
if [ ! -x "$DRIVER" ]; then
    echo "1..0 # SKIP $DRIVER is not built (make check builds it)"
    exit 0
fi

TMP=$(mktemp -d /tmp/kyso-redis.XXXXXX)

# ---- processes --------------------------------------------------------------

# stop_pidfile FILE - SIGKILL the server whose "PID PORT" FILE holds, if that
# pid is still a redis-server on that port (never a recycled pid).
stop_pidfile() {
    local pid port
    read -r pid port < "$1" 2>/dev/null || return 0
    if grep -q ":$port" "/proc/$pid/cmdline" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null
        while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    fi
    rm -f "$1"
}

cleanup() {
    local f j
    for j in $(jobs -p); do             # a driver still running (servers are disowned)
        kill "$j" 2>/dev/null
    done
    for f in "$TMP"/*/pid; do
        [ -e "$f" ] && stop_pidfile "$f"
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# port_free PORT - nothing listens on 127.0.0.1:PORT.
port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Ten ports in a row that are free, between 10000 and the first port the
# kernel hands out to outgoing connections (so that none of the many
# client connections of the test can take a port before its server does).
read -r eph _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph=32768
slots=$(((eph - 10000) / 100))
[ "$slots" -gt 0 ] || slots=1
BASE=$((10000 + ($$ % slots) * 100))
for _ in $(seq 1 20); do
    free=1
    for i in $(seq 0 9); do port_free $((BASE + i)) || { free=0; break; }; done
    [ $free = 1 ] && break
    BASE=$((10000 + ((BASE - 10000 + 700) % (slots * 100))))
done
P_PLAIN=$BASE P_ACL=$((BASE + 1)) P_M=$((BASE + 2)) P_R=$((BASE + 3))
P_S1=$((BASE + 4)) P_S2=$((BASE + 5)) P_S3=$((BASE + 6))

# wait_ping PORT - until the server answers (PONG, or NOAUTH when it wants a
# password), at most 10 s.
wait_ping() {
    for _ in $(seq 1 200); do
        case $(redis-cli -p "$1" PING 2>/dev/null) in PONG | NOAUTH*) return 0 ;; esac
        sleep 0.05
    done
    return 1
}

# redis_start NAME PORT [ARGS...] - a redis-server with its data in TMP/NAME
# (kept across restarts: the append-only file brings the data back).
redis_start() {
    local name=$1 port=$2
    shift 2
    mkdir -p "$TMP/$name"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly yes \
        --appendfsync always --repl-diskless-sync-delay 0 --dir "$TMP/$name" \
        --logfile "$TMP/$name/log" --daemonize no "$@" &
    echo "$! $port" > "$TMP/$name/pid"
    disown
    wait_ping "$port" && return 0
    tail -n 5 "$TMP/$name/log" 2>/dev/null | sed 's/^/# /'
    return 1
}

# redis_kill NAME - SIGKILL that server.
redis_kill() {
    stop_pidfile "$TMP/$1/pid"
}

# ---- TAP ----------------------------------------------------------------------

n=0
ok() {
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
# is WANT GOT NAME
is() {
    if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3 (want $1, got $2)"; fi
}
# tap_of FILE - the driver's TAP lines, renumbered into ours.
tap_of() {
    local l rest
    while IFS= read -r l; do
        case $l in
        "ok "*) rest=${l#ok }; ok 0 "${rest#* - }" ;;
        "not ok "*) rest=${l#not ok }; ok 1 "${rest#* - }" ;;
        "#"*) echo "$l" ;;
        esac
    done < "$1"
}
# check URI TAG THREADS PER - the driver reads TAG back (TAP renumbered).
check() {
    "$DRIVER" check "$@" > "$TMP/check.out" 2>&1
    tap_of "$TMP/check.out"
}
# append_out FILE KEY - KEY=value from an append run's output.
append_out() {
    sed -n "s/.*$2=\([0-9]*\).*/\1/p" "$1" | head -n 1
}
# spool_lines DIR - lines in all spool files of DIR.
spool_lines() {
    cat "$1"/redis-*.jsonl 2>/dev/null | wc -l
}
xlen() {
    redis-cli -p "$1" XLEN "$2"
}

# ---- 1. plain ---------------------------------------------------------------

mkdir -p "$TMP/spool" "$TMP/spool-acl" "$TMP/spool-s"
redis_start plain "$P_PLAIN" --enable-debug-command local
ok $? "redis-server started on 127.0.0.1:$P_PLAIN"
U="redis://127.0.0.1:$P_PLAIN/0?spool=$TMP/spool"
redis-cli -p "$P_PLAIN" XADD kyso:decisions 1000-1 r '{"old":1}' > /dev/null
redis-cli -p "$P_PLAIN" XADD kyso:audit 1000-1 r '{"old":1}' > /dev/null

"$DRIVER" append "$U" T1 4 500 > "$TMP/a1.out" 2>&1
ok $? "4 threads append 500 records each"
grep '^#' "$TMP/a1.out"
check "$U" T1 4 500
is 2000 "$(xlen "$P_PLAIN" kyso:decisions)" "XLEN: 2000 decisions, the one from 1970 trimmed"
is 1 "$(redis-cli -p "$P_PLAIN" XRANGE kyso:audit 1000-1 1000-1 | grep -c old)" \
    "the audit stream is not trimmed (AuditRetention 0)"
is "0" "$(spool_lines "$TMP/spool")" "nothing left in the spool"
echo "# the same, read-only (ro): no spool folder needed"
UR="redis://127.0.0.1:$P_PLAIN/0?spool=$TMP/no-such-folder&ro"
check "$UR" T1 4 500
"$DRIVER" append "$UR" RO 1 1 > "$TMP/ro.out" 2>&1
is 1 $? "a store opened ro refuses appends"

# ---- 2. Redis killed mid-run --------------------------------------------------

"$DRIVER" append "$U" K 4 500 2000 > "$TMP/a2.out" 2>&1 &
ap=$!
sleep 0.3
redis_kill plain
sleep 0.3
lines=$(spool_lines "$TMP/spool")
ok $([ "$lines" -gt 0 ] && echo 0 || echo 1) "Redis down: records go to the spool ($lines lines)"
sleep 0.2
redis_start plain "$P_PLAIN" --enable-debug-command local
ok $? "redis-server restarted (append-only file reloaded)"
wait $ap
ok $? "the appender finished without an error"
grep '^#' "$TMP/a2.out"
slow=$(append_out "$TMP/a2.out" max_append_us)
ok $([ "${slow:-999999999}" -lt 500000 ] && echo 0 || echo 1) \
    "no append waited on the dead Redis (slowest ${slow:-?} us)"
check "$U" K 4 500
is 4000 "$(xlen "$P_PLAIN" kyso:decisions)" "XLEN: 4000, nothing lost, nothing twice"
is 0 "$(spool_lines "$TMP/spool")" "the spool is empty again"

# ---- 3. Redis down when the store closes ---------------------------------------

redis_kill plain
t0=$(date +%s%N)
"$DRIVER" append "$U" D 2 150 > "$TMP/a3.out" 2>&1
ok $? "appending with Redis down succeeds"
ms=$((($(date +%s%N) - t0) / 1000000))
ok $([ $ms -lt 3000 ] && echo 0 || echo 1) "close does not hang on a dead Redis (${ms} ms)"
is 300 "$(spool_lines "$TMP/spool")" "the 300 records wait in the spool file"
redis_start plain "$P_PLAIN" --enable-debug-command local
"$DRIVER" append "$U" D2 1 1 > "$TMP/a3b.out" 2>&1
ok $? "a new store instance starts (and adopts the spool)"
check "$U" D 2 150
is 0 "$(spool_lines "$TMP/spool")" "the adopted spool was replayed and removed"
is 0 "$(ls "$TMP/spool" | wc -l)" "no spool file left behind"

# ---- 4. Redis asleep ------------------------------------------------------------

"$DRIVER" append "$U" SL 2 500 2000 > "$TMP/a4.out" 2>&1 &
ap=$!
sleep 0.2
redis-cli -p "$P_PLAIN" DEBUG SLEEP 1.5 > /dev/null
wait $ap
ok $? "appending while Redis sleeps 1.5 s succeeds"
grep '^#' "$TMP/a4.out"
slow=$(append_out "$TMP/a4.out" max_append_us)
ok $([ "${slow:-999999999}" -lt 500000 ] && echo 0 || echo 1) \
    "no append waited on the sleeping Redis (slowest ${slow:-?} us)"
inredis=$(xlen "$P_PLAIN" kyso:decisions) inspool=$(spool_lines "$TMP/spool")
# a batch Redis ran just before the timeout is in both: the replay skips it
ok $([ $((inredis + inspool)) -ge 5301 ] && echo 0 || echo 1) \
    "every record is in Redis ($inredis in all) or in the spool ($inspool)"
"$DRIVER" append "$U" SL2 1 1 > "$TMP/a4b.out" 2>&1
check "$U" SL 2 500
is 0 "$(spool_lines "$TMP/spool")" "the spool is empty again"

# ---- 5. AUTH with an ACL user -----------------------------------------------------

mkdir -p "$TMP/acl"
# the ACL line of doc/redis.md
acl="user kyso on >s3cret-Pw ~kyso:* resetchannels -@all +ping +role +select +get +set"
acl="$acl +xadd +xtrim +xrange +xrevrange +xread +xlen +evalsha +script|load +wait"
acl="$acl +incr +expire +hincrby +hgetall +sadd +smembers +zadd +zremrangebyscore"
acl="$acl +zrangebyscore +zrevrangebyscore +zcount"
printf 'user default off\n%s\n' "$acl" > "$TMP/acl/users.acl"
redis_start acl "$P_ACL" --aclfile "$TMP/acl/users.acl"
ok $? "redis-server with an ACL file started"
UA="redis://kyso:s3cret-Pw@127.0.0.1:$P_ACL/0?spool=$TMP/spool-acl"
"$DRIVER" openfail "redis://kyso:WRONG-pw@127.0.0.1:$P_ACL/0?spool=$TMP/spool" WRONG-pw \
    > "$TMP/f1.out" 2>&1
tap_of "$TMP/f1.out"
"$DRIVER" openfail "redis://127.0.0.1:$P_ACL/0?spool=$TMP/spool" nothing > "$TMP/f2.out" 2>&1
tap_of "$TMP/f2.out"
"$DRIVER" append "$UA" AU 2 100 > "$TMP/a5.out" 2>&1
ok $? "appending as the ACL user kyso"
check "$UA" AU 2 100
is 200 "$(redis-cli -p "$P_ACL" --user kyso --pass s3cret-Pw --no-auth-warning \
    XLEN kyso:decisions)" "XLEN as kyso: 200"
is 0 "$(spool_lines "$TMP/spool-acl")" "nothing stuck in the spool"

# ---- 6. query and follow ----------------------------------------------------------

"$DRIVER" query "$U" Q > "$TMP/q.out" 2>&1
tap_of "$TMP/q.out"

# ---- 8. shared state ----------------------------------------------------------------

"$DRIVER" shared "$U" > "$TMP/sh.out" 2>&1
tap_of "$TMP/sh.out"

# ---- 9. Redis stopped and back: lookups miss fast, one line each ------------------------

mkdir -p "$TMP/du"
"$DRIVER" downup "$U" "$TMP/du" 2000 > "$TMP/du.out" 2>&1 &
dp=$!
for _ in $(seq 1 200); do [ -e "$TMP/du/ready-down" ] && break; sleep 0.05; done
redis_kill plain
touch "$TMP/du/go-down"
for _ in $(seq 1 200); do [ -e "$TMP/du/ready-up" ] && break; sleep 0.05; done
redis_start plain "$P_PLAIN" --enable-debug-command local
touch "$TMP/du/go-up"
wait $dp
tap_of "$TMP/du.out"

# ---- 10. counters -------------------------------------------------------------------

KYSO=$top_builddir/milter/kyso
here=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/report
UC="redis://127.0.0.1:$P_PLAIN/3?spool=$TMP/spool"
if TZ=Asia/Ho_Chi_Minh python3 "$here/mkrecords.py" "$TMP/rep" > /dev/null 2>&1; then
    t0=$(date +%s%N)
    TZ=Asia/Ho_Chi_Minh "$DRIVER" counters "$UC" "$TMP/rep/store/decisions.jsonl.1" \
        "$TMP/rep/store/decisions.jsonl" > "$TMP/cnt.out" 2>&1
    ok $? "counters of the report fixtures' records kept in Redis"
    sed 's/$/ in '"$((($(date +%s%N) - t0) / 1000000))"' ms/' "$TMP/cnt.out" | grep '^#'
    echo "# $(redis-cli -p "$P_PLAIN" -n 3 DBSIZE) counter keys"
    for c in $(python3 -c 'import json,sys
for c in json.load(open(sys.argv[1]))["cases"]: print(c["name"])' "$TMP/rep/expect.json"); do
        args=$(python3 -c 'import json,sys
e=json.load(open(sys.argv[1]))
print(" ".join(next(c for c in e["cases"] if c["name"]==sys.argv[2])["args"]))' \
            "$TMP/rep/expect.json" "$c")
        # counters live 800 days: an unbounded case starts with the records (2024)
        case " $args " in *" --since "* | *" --year "*) ;; *) args="$args --since 2024-01" ;; esac
        # shellcheck disable=SC2086
        TZ=Asia/Ho_Chi_Minh "$KYSO" report --store "$UC&ro" --from-counters --csv $args \
            > "$TMP/cnt-$c.csv" 2> "$TMP/cnt-$c.err"
        TZ=Asia/Ho_Chi_Minh python3 "$here/check.py" csv "$TMP/rep/expect.json" "$c" \
            "$TMP/cnt-$c.csv" > "$TMP/cnt-$c.chk" 2>&1
        # damaged lines are not records: counters never see them
        bad=$(grep '^not ok' "$TMP/cnt-$c.chk" | grep -vc 'damaged lines')
        good=$(grep -c '^ok' "$TMP/cnt-$c.chk")
        [ "$bad" = 0 ] && [ "$good" -gt 0 ]
        ok $? "kyso report --from-counters $args: the numbers of mkrecords.py ($good checks)"
        [ "$bad" = 0 ] || grep -A2 '^not ok' "$TMP/cnt-$c.chk" | grep -v damaged | head -6 |
            sed 's/^/# /'
    done
else
    ok 1 "tests/report/mkrecords.py makes the records"
fi

# ---- 11. the decision indexes ---------------------------------------------------------

LX=$top_builddir/tests/redis/test-logix
LD=$TMP/logix
mkdir -p "$LD/spool"
export TZ=Asia/Ho_Chi_Minh
python3 "$here/../log/mkrecords.py" "$LD/rec" > /dev/null 2>&1
"$KYSO" log --store "file:$LD/rec/store" --json --limit 0 > "$LD/all.jsonl" 2> /dev/null
UX="redis://127.0.0.1:$P_PLAIN/5?spool=$LD/spool&retention=0"
UXR="redis://127.0.0.1:$P_PLAIN/5?ro"
# the first 250 as an older kyso-milter left them: in the stream, no index
head -n 250 "$LD/all.jsonl" | python3 -c '
import sys
for i, l in enumerate(sys.stdin.buffer, 1):
    a = [b"XADD", b"kyso:decisions", b"1000-%d" % i, b"n", b"mx1", b"r", l.rstrip(b"\n")]
    sys.stdout.buffer.write(b"*7\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a))
' | redis-cli -p "$P_PLAIN" -n 5 --pipe > /dev/null
"$LX" append "$UX" "$LD/all.jsonl" 250 > "$LD/ap.out" 2>&1
ok $? "the other 250 records appended through the writer, which indexes them"
lx() {
    python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print($1)" "$LD/rec/expect.json"
}
# calls NAME - how many times Redis ran command NAME since CONFIG RESETSTAT
calls() {
    redis-cli -p "$P_PLAIN" INFO commandstats | sed -n "s/^cmdstat_$1:calls=\([0-9]*\).*/\1/p"
}
# same_rows - every filter, three limits: the same --json rows from both stores
same_rows() {
    local args lim bad=0 cnt=0
    while IFS= read -r args; do
        for lim in "" "--limit 0" "--limit 7" "--limit 300"; do
            # shellcheck disable=SC2086
            "$KYSO" log --store "file:$LD/rec/store" --json $lim $args > "$LD/f" 2> /dev/null
            # shellcheck disable=SC2086
            "$KYSO" log --store "$2" --json $lim $args > "$LD/r" 2> /dev/null
            cnt=$((cnt + 1))
            cmp -s "$LD/f" "$LD/r" || { bad=$((bad + 1)); echo "# differs: $lim $args"; }
        done
    done <<EOQ

--sender $(lx 'e["sender"]["arg"].upper()')
--sender <>
--rcpt $(lx 'e["rcpt"]["arg"]')
--domain $(lx 'e["domain"]["arg"]')
--domain KHANHHOA.gov.vn --action reject
--domain gov.vn
--action reject
--action tempfail
--action accept
--reason cert_expired
--reason ok
--reason cert_expired --action reject --domain dongthap.gov.vn
--since 2d --reason cert_expired
--sender nobody@nowhere.example
EOQ
    [ "$bad" = 0 ]
    ok $? "$1: the same rows from the file store and from Redis ($cnt queries)"
}
same_rows "indexes from the marker on, a scan before it" "$UXR"
redis-cli -p "$P_PLAIN" -n 5 CONFIG RESETSTAT > /dev/null
"$KYSO" log --store "$UXR" --limit 0 --reason cert_expired > /dev/null 2>&1
zr=$(calls zrangebyscore)
ok $([ "${zr:-0}" -gt 0 ] && echo 0 || echo 1) \
    "a filtered query reads the index (${zr:-0} ZRANGEBYSCORE)"
# what reindex must go through: every entry up to the marker's millisecond
# (the 250 older ones, and the writer's first ones within that millisecond)
mark=$(redis-cli -p "$P_PLAIN" -n 5 GET kyso:ix:since)
upto=$(redis-cli -p "$P_PLAIN" -n 5 EVAL "return #redis.call('XRANGE', KEYS[1], '-', ARGV[1])" \
    1 kyso:decisions "$mark-18446744073709551615")
"$KYSO" reindex --store "$UX" > "$LD/ri.out" 2>&1
ok $? "kyso reindex runs: $(head -n 1 "$LD/ri.out")"
ok $([ "${upto:-0}" -ge 250 ] && echo 0 || echo 1) "$upto records up to the marker, 250 of them older"
is "$upto" "$(sed -n 's/^kyso reindex: \([0-9]*\) decision records indexed.*/\1/p' "$LD/ri.out")" \
    "kyso reindex went through every record up to the marker"
is 0 "$(redis-cli -p "$P_PLAIN" -n 5 GET kyso:ix:since)" "the marker now says: all indexed"
same_rows "all indexed" "$UXR"
"$KYSO" reindex --store "file:$LD/rec/store" > "$LD/ri-file.out" 2>&1
is 2 $? "kyso reindex on a file store: exit 2"
grep -q "a file store needs none" "$LD/ri-file.out"
ok $? "kyso reindex on a file store says it needs no indexes"
redis-cli -p "$P_PLAIN" CONFIG RESETSTAT > /dev/null
"$KYSO" log --store "$UXR" --sender "$(lx 'e["sender"]["arg"]')" > /dev/null 2>&1
xr=$(calls xrevrange)
is 0 "${xr:-0}" "a rare sender: no XREVRANGE scan of the stream"
"$LX" append "redis://127.0.0.1:$P_PLAIN/5?spool=$LD/spool" "$LD/all.jsonl" 499 > /dev/null 2>&1
ttl=$(redis-cli -p "$P_PLAIN" -n 5 TTL "kyso:ix:sender:$(tail -n 1 "$LD/all.jsonl" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["env_from"].lower())')")
ok $([ "${ttl:--1}" -gt $((189 * 86400)) ] && [ "$ttl" -le $((191 * 86400)) ] && echo 0 || echo 1) \
    "index keys expire with LogRetention (TTL ${ttl:-?} s)"
# an ACL from before the indexes: records stored, marker moved past them, no row lost
mkdir -p "$TMP/acl2"
printf 'user default on nopass ~* +@all\n%s\n' "$(echo "$acl" | sed 's/ +zadd.*//')" \
    > "$TMP/acl2/users.acl"
redis_start acl2 $((BASE + 7)) --aclfile "$TMP/acl2/users.acl"
UO="redis://kyso:s3cret-Pw@127.0.0.1:$((BASE + 7))/0?spool=$LD/spool&retention=0"
"$LX" append "$UO" "$LD/all.jsonl" > "$LD/old.out" 2>&1
ok $? "an ACL without the index commands: appends succeed"
is "$(grep -c . "$LD/all.jsonl")" "$(xlen $((BASE + 7)) kyso:decisions)" \
    "... every record is stored"
same_rows "an ACL without the index commands" "${UO%%\?*}?ro"
unset TZ

# ---- 12. the revocation cache shared by two processes ---------------------------------

RS=$top_builddir/tests/redis/test-revshare
RV=$TMP/rev
P_OCSP=$((BASE + 8)) P_HTTP=$((BASE + 9))
if command -v openssl > /dev/null && sh "$here/../revocation/mkrevpki.sh" "$RV" "$P_HTTP" \
    > /dev/null 2>&1; then
    (cd "$RV" && exec openssl ocsp -index sub-ca/index.txt -port "$P_OCSP" -rsigner sub.pem \
        -rkey sub.key -CA sub.pem -nmin 60 -ignore_err > "$RV/ocsp.log" 2>&1) &
    ocsp_pid=$!
    (cd "$RV" && openssl ocsp -issuer sub.pem -cert good.pem -no_nonce -reqout probe.der) \
        > /dev/null 2>&1
    for _ in $(seq 1 100); do
        curl -s -m 2 -o /dev/null --data-binary @"$RV/probe.der" \
            -H "Content-Type: application/ocsp-request" "http://127.0.0.1:$P_OCSP/" && break
        sleep 0.05
    done
    echo "http://127.0.0.1:$P_HTTP/ocsp  http://127.0.0.1:$P_OCSP/" > "$RV/t-ocsp"
    UV="redis://127.0.0.1:$P_PLAIN/6?spool=$TMP/spool"
    rs() { (cd "$RV" && "$RS" "$UV" root.pem sub.pem good.pem t-ocsp root.crl 2>&1); }
    got=$(rs)
    case $got in "ok	"*) ok 0 "process A: good, from the OCSP responder" ;;
    *) ok 1 "process A: good from the responder (got: $got)" ;; esac
    nkeys=$(redis-cli -p "$P_PLAIN" -n 6 --scan --pattern 'kyso:rev:ocsp:*' | wc -l)
    is 1 "$nkeys" "A's OCSP answer is in Redis (kyso:rev:ocsp:...)"
    kill "$ocsp_pid" 2> /dev/null
    wait "$ocsp_pid" 2> /dev/null
    got=$(rs)
    case $got in "ok	"*) ok 0 "process B, responder stopped: good, from A's answer in Redis" ;;
    *) ok 1 "process B from Redis (got: $got)" ;; esac
    redis-cli -p "$P_PLAIN" -n 6 --scan --pattern 'kyso:rev:*' |
        xargs -r redis-cli -p "$P_PLAIN" -n 6 DEL > /dev/null
    got=$(rs)
    case $got in "revocation_unknown	"*) ok 0 "key deleted: process B gets revocation_unknown" ;;
    *) ok 1 "key deleted: revocation_unknown (got: $got)" ;; esac
else
    ok 1 "tests/revocation/mkrevpki.sh makes the PKI"
fi

# ---- 7. Sentinel --------------------------------------------------------------------

redis_start m "$P_M"
redis_start r "$P_R" --replicaof 127.0.0.1 "$P_M"
for p in $P_S1 $P_S2 $P_S3; do
    mkdir -p "$TMP/s$p"
    cat > "$TMP/s$p/sentinel.conf" <<EOF
port $p
bind 127.0.0.1
dir $TMP/s$p
logfile $TMP/s$p/log
sentinel monitor mymaster 127.0.0.1 $P_M 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 4000
EOF
    redis-server "$TMP/s$p/sentinel.conf" --sentinel &
    echo "$! $p" > "$TMP/s$p/pid"
    disown
    wait_ping "$p"
done
# replica_ready PORT MASTERPORT - PORT replicates MASTERPORT, and the sentinels know it.
replica_ready() {
    for _ in $(seq 1 300); do
        redis-cli -p "$1" INFO replication | grep -q "master_port:$2" \
            && redis-cli -p "$1" INFO replication | grep -q "master_link_status:up" \
            && redis-cli -p "$P_S1" SENTINEL replicas mymaster | grep -qx "$1" && return 0
        sleep 0.1
    done
    return 1
}
master_port() {
    redis-cli -p "$P_S1" SENTINEL get-master-addr-by-name mymaster | sed -n 2p
}
replica_ready "$P_R" "$P_M"
ok $? "master, replica and three sentinels are up"
US="sentinel://127.0.0.1:$P_S1,127.0.0.1:$P_S2,127.0.0.1:$P_S3/mymaster?spool=$TMP/spool-s"

"$DRIVER" append "$US" F1 2 1000 2000 > "$TMP/a7.out" 2>&1 &
ap=$!
sleep 0.7
redis-cli -p "$P_S1" SENTINEL FAILOVER mymaster > /dev/null
wait $ap
ok $? "appending through a SENTINEL FAILOVER succeeds"
grep '^#' "$TMP/a7.out"
is "$P_R" "$(master_port)" "the sentinels now name the former replica"
check "$US" F1 2 1000
is 2000 "$(xlen "$P_R" kyso:decisions)" "XLEN on the new master: 2000"
is 0 "$(spool_lines "$TMP/spool-s")" "nothing stuck in the spool"

replica_ready "$P_M" "$P_R"
ok $? "the former master came back as a replica"
"$DRIVER" append "$US" F2 2 3000 2000 > "$TMP/a8.out" 2>&1 &
ap=$!
sleep 0.7
redis_kill r
t0=$(date +%s%N)
for _ in $(seq 1 150); do [ "$(master_port)" = "$P_M" ] && break; sleep 0.1; done
echo "# the sentinels failed over in $((($(date +%s%N) - t0) / 1000000)) ms"
wait $ap
ok $? "appending while the master is SIGKILLed succeeds"
grep '^#' "$TMP/a8.out"
is "$P_M" "$(master_port)" "the sentinels promoted the replica"
check "$US" F2 2 3000
is 8000 "$(xlen "$P_M" kyso:decisions)" "XLEN on the surviving server: 8000"
is 0 "$(spool_lines "$TMP/spool-s")" "nothing stuck in the spool"

echo "1..$n"
