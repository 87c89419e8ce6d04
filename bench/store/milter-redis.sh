#!/bin/bash
# bench/store/milter-redis.sh [FIXTURES_DIR] - the mail path of kyso-milter
# with Store redis://... against the embedded Store file:DIR, in the same
# run (issue 5, item 7: the mail path must not slow by more than 5%).
#
# A private Postfix (tests/e2e/postfix.sh) on loopback, kyso-milter as its
# milter on a unix socket, every accepted message handed to discard(8).
# A small sender (Python, below) sends N messages carrying the signed 1 MB
# fixture pdf/big-1m-signed.pdf (1.36 MB on the wire), each with its own
# Message-ID, over CONC parallel sessions, one SMTP connection per message.
# Rounds alternate: file, redis, file, redis... (ROUNDS of each), each with
# a freshly started milter, CONC untimed warm-up messages, then N timed
# ones. Measured per round: messages per second from the first connection
# to the last end-of-DATA reply (the milter's whole time is inside it), the
# median and 95th percentile of the end-of-DATA reply time, and the
# milter's CPU time per message (utime + stime from /proc). For Redis, also
# the time after the last reply until every record of the round is in the
# stream, and redis-server's CPU time per message (on this machine it takes
# its share of the same cores; in production it runs elsewhere). The table
# gives medians over the rounds, the ratio of the medians redis/file, and
# the ratio of each redis round to the file round just before it (the two
# ran under the same load from the rest of the machine).
#
# Before a round counts, the script checks that every one of its messages
# got 250 and has a decision record saying accept, reason ok, in the store
# under test (kyso log --json for both stores): a fast milter that did not
# check would be worthless. A failed check stops the run.
#
# Redis: one redis-server on a loopback port, appendonly yes and appendfsync
# always (what doc/redis.md recommends). Both stores keep the milter's
# default verification cache, so after the warm-up every document is a
# cache hit and the store's share of the work is as large as it gets.
#
# Then, when tests/unit/test-store-redis is built, its append driver gives
# raw store_append rates for both backends (THREADS threads, PER records
# each, 3 runs, median).
#
# Environment: N (300), CONC (10), ROUNDS (3), THREADS (4), PER (10000),
# REDIS_FSYNC (always; everysec or no to see what the fsyncs cost),
# KYSO_MILTER, KYSO, KEEP=1 keeps the work directory.
# Needs root (Postfix's master), postfix, postfix-sqlite, redis-server,
# redis-cli, python3, jq.
#
# It must never touch the system Postfix or a Redis it did not start:
# everything runs from a mktemp directory in /tmp on 127.0.0.1, and only
# processes it started are signalled (by the pid it recorded; Postfix
# through pf_stop). Results go to stdout and bench/out/milter-redis.md.
set -u -o pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$TOP/bench/out
N=${N:-300}
CONC=${CONC:-10}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-4}
PER=${PER:-10000}
REDIS_FSYNC=${REDIS_FSYNC:-always}
FROM=vanthu@sotttt.demo.gov.vn
TO=tiepnhan@ubnd.demo.gov.vn
MPID='' RPID='' W=''

say() { echo "milter-redis: $*" >&2; }
die() { say "$*"; exit 2; }

# cleanup - stop the milter and redis-server we started, the Postfix
# instance, and remove W unless KEEP=1. The EXIT trap; never fails.
cleanup() {
    stop_milter
    [ -n "$RPID" ] && kill -9 "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null
    [ -n "$W" ] && pf_stop "$W/pf" >/dev/null 2>&1
    if [ "${KEEP:-0}" = 1 ]; then say "kept $W"; else [ -n "$W" ] && rm -rf "$W"; fi
    return 0
}

# find_tools [FIXTURES_DIR] - set MILTER_BIN, KYSO_BIN, DRIVER and FX;
# dies naming what is missing.
find_tools() {
    local t b=$TOP/build
    [ "$(id -u)" = 0 ] || die "needs root (a private Postfix's master starts as root)"
    for t in /usr/sbin/postfix redis-server redis-cli python3 jq; do
        command -v "$t" >/dev/null || die "no $t (apt-get install postfix postfix-sqlite \
redis-server python3 jq)"
    done
    [ -x "$b/milter/kyso-milter" ] || b=$TOP
    MILTER_BIN=${KYSO_MILTER:-$b/milter/kyso-milter}
    KYSO_BIN=${KYSO:-$b/milter/kyso}
    DRIVER=$b/tests/unit/test-store-redis
    { [ -x "$MILTER_BIN" ] && [ -x "$KYSO_BIN" ]; } || die "build first (make -C build)"
    for t in "${1:-}" "$TOP/build/tests/out/fixtures" "$TOP/tests/out/fixtures"; do
        [ -n "$t" ] && [ -f "$t/pdf/big-1m-signed.pdf" ] && { FX=$(cd "$t" && pwd); return; }
    done
    die "no fixtures with pdf/big-1m-signed.pdf: run tests/fixtures/mkfixtures.sh DIR"
}

# machine - one line: CPUs, CPU model, RAM, kernel.
machine() {
    local cpu mem
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
    mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    echo "nproc $(nproc), ${cpu:-unknown CPU}, $mem RAM, $(uname -sr)"
}

# wait_for SECONDS CMD... - run CMD every 0.05 s until it succeeds; fails
# when SECONDS pass first.
wait_for() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.05
    done
}

# start_redis - redis-server on a free loopback port, data in W/redis;
# sets RPID, RPORT. Dies when it does not answer within 10 s.
start_redis() {
    RPORT=$(pf__free_ports 1) || die "no free port"
    mkdir -p "$W/redis"
    redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly yes \
        --appendfsync "$REDIS_FSYNC" --dir "$W/redis" --logfile "$W/redis/log" --daemonize no &
    RPID=$!
    wait_for 10 redis_up ||
        die "redis-server did not start: $(tail -3 "$W/redis/log")"
}

# redis_up - our redis-server answers PONG.
redis_up() { [ "$(redis-cli -p "$RPORT" PING 2>/dev/null)" = PONG ]; }

# xlen - the number of entries in kyso:decisions.
xlen() { redis-cli -p "$RPORT" XLEN kyso:decisions; }

# xlen_at_least COUNT - kyso:decisions holds COUNT entries or more.
xlen_at_least() { [ "$(xlen)" -ge "$1" ]; }

# milter_gone - the daemon MPID has exited.
milter_gone() { ! kill -0 "$MPID" 2>/dev/null; }

# start_postfix - a private Postfix whose smtpd uses the milter at
# W/kyso.sock and whose mail all goes to discard(8). Sets PORT.
start_postfix() {
    mkdir -p "$W/pf"
    pf_start "$W/pf" "unix:$W/kyso.sock" >"$W/pf-start.log" 2>&1 ||
        die "Postfix did not start: $(tail -5 "$W/pf-start.log")"
    pf_postconf "$W/pf" virtual_mailbox_domains= virtual_mailbox_maps= \
        default_transport=discard:bench non_smtpd_milters= >>"$W/pf-start.log" 2>&1 ||
        die "pf_postconf failed: $(tail -5 "$W/pf-start.log")"
    PORT=$(pf_port "$W/pf")
}

# write_conf KIND - W/KIND.conf for the file or redis store, otherwise the
# same: the fixture PKI, *.demo.gov.vn watched, no notices, no syslog.
write_conf() {
    local store="Store file:$W/store"
    [ "$1" = redis ] && store="Store redis://127.0.0.1:$RPORT/0
RedisSpool $W/spool"
    cat >"$W/$1.conf" <<EOF
Socket local:$W/kyso.sock
SocketMode 0666
Syslog no
AuthservID mx.kyso.test
NodeName bench-$1
TrustAnchors $FX/pki/anchors
Intermediates $FX/pki/intermediates
CRLs $FX/pki/crl
EnforceDomains *.demo.gov.vn
Notify no
$store
EOF
}

# start_milter KIND - the daemon on W/KIND.conf in the foreground of a
# background job; sets MPID. Dies when its socket is not there in 10 s.
start_milter() {
    rm -f "$W/kyso.sock"
    "$MILTER_BIN" -f -c "$W/$1.conf" 2>>"$W/milter-$1.log" &
    MPID=$!
    wait_for 10 test -S "$W/kyso.sock" || die "kyso-milter ($1) did not start: \
$(tail -3 "$W/milter-$1.log")"
}

# stop_milter - SIGTERM the daemon and wait for it (at most 15 s, then
# SIGKILL). Never fails.
stop_milter() {
    [ -n "$MPID" ] || return 0
    kill -TERM "$MPID" 2>/dev/null
    wait_for 15 milter_gone || kill -9 "$MPID" 2>/dev/null
    wait "$MPID" 2>/dev/null
    MPID=
}

# cpu_ticks PID - utime + stime of PID in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# sender TAG COUNT - send COUNT messages tagged TAG at concurrency CONC;
# prints "rate=MSG/S p50=MS p95=MS wall=S". Fails on any reply but 250.
sender() {
    python3 - "$PORT" "$FROM" "$TO" "$W/msg.eml" "$1" "$2" "$CONC" <<'PY'
"""Send COUNT copies of a message, each with Message-ID <TAG-i@...>, over
CONC threads, one SMTP connection per message; never retries."""
import socket, sys, threading, time
port, frm, to, path, tag, count, conc = sys.argv[1:8]
count, conc = int(count), int(conc)
raw = open(path, "rb").read().replace(b"\r\n", b"\n").split(b"\n")
if raw and raw[-1] == b"":
    raw.pop()
data = b"\r\n".join(b"." + l if l.startswith(b".") else l for l in raw) + b"\r\n.\r\n"
PH = b"KYSOBENCHMESSAGEIDPLACEHOLDER"
assert data.count(PH) == 1, "the template must hold the placeholder once"
head, tail = data.split(PH)

def reply(s, buf):
    while True:
        while b"\r\n" not in buf[0]:
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("connection closed")
            buf[0] += chunk
        line, buf[0] = buf[0].split(b"\r\n", 1)
        if line[3:4] != b"-":
            return int(line[:3]), line.decode("ascii", "replace")

def one(i):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=120)
    buf = [b""]
    try:
        for cmd, want in ((None, 220), (b"EHLO bench.kyso.test", 250),
                          (b"MAIL FROM:<%s>" % frm.encode(), 250),
                          (b"RCPT TO:<%s>" % to.encode(), 250), (b"DATA", 354)):
            if cmd:
                s.sendall(cmd + b"\r\n")
            code, text = reply(s, buf)
            if code != want:
                raise RuntimeError("%s: %s" % (cmd, text))
        t0 = time.monotonic()
        s.sendall(head + ("%s-%06d" % (tag, i)).encode() + tail)
        code, text = reply(s, buf)
        lat = time.monotonic() - t0
        if code != 250:
            raise RuntimeError("end of DATA: " + text)
        s.sendall(b"QUIT\r\n")
        return lat
    finally:
        s.close()

lats, errors, lock, nxt = [], [], threading.Lock(), [0]

def worker():
    while True:
        with lock:
            if nxt[0] >= count or errors:
                return
            i = nxt[0]
            nxt[0] += 1
        try:
            lat = one(i)
            with lock:
                lats.append(lat)
        except Exception as e:
            with lock:
                errors.append("message %d: %s" % (i, e))

t0 = time.monotonic()
ts = [threading.Thread(target=worker) for _ in range(conc)]
for t in ts:
    t.start()
for t in ts:
    t.join()
wall = time.monotonic() - t0
if errors:
    sys.exit("sender: " + errors[0])
lats.sort()
print("rate=%.2f p50=%.1f p95=%.1f wall=%.3f" % (count / wall, 1000 * lats[len(lats) // 2],
      1000 * lats[min(len(lats) - 1, int(len(lats) * 0.95))], wall))
PY
}

# make_message - W/msg.eml: the 1 MB signed PDF attached, a Message-ID
# placeholder that the sender replaces.
make_message() {
    python3 - "$W/msg.eml" "$FX/pdf/big-1m-signed.pdf" "$FROM" "$TO" <<'PY' ||
import sys
from email.message import EmailMessage
out, pdf, frm, to = sys.argv[1:5]
m = EmailMessage()
m["From"] = frm
m["To"] = to
m["Subject"] = "Cong van (bench)"
m["Message-ID"] = "<KYSOBENCHMESSAGEIDPLACEHOLDER@sotttt.demo.gov.vn>"
m.set_content("Kinh gui Van phong UBND tinh,\nXin gui kem cong van.\n")
m.add_attachment(open(pdf, "rb").read(), maintype="application", subtype="pdf",
                 filename="cong-van.pdf")
open(out, "wb").write(bytes(m))
PY
        die "cannot write the message"
}

# store_of KIND - the store URI kyso log reads for KIND.
store_of() {
    if [ "$1" = redis ]; then echo "redis://127.0.0.1:$RPORT/0"; else echo "file:$W/store"; fi
}

# check_round KIND TAG - every message TAG-000000.. of the round has a
# record accept/ok from node bench-KIND. Dies otherwise.
check_round() {
    local got
    got=$("$KYSO_BIN" log --store "$(store_of "$1")" --json --limit 0 2>/dev/null |
        jq -r --arg t "^<$2-[0-9]{6}@" --arg n "bench-$1" 'select(.message_id | test($t)) |
          select(.node == $n and .action == "accept" and .reason == "ok") | .message_id' |
        sort -u | wc -l)
    [ "$got" -eq "$N" ] || die "$1 round $2: $got of $N records say accept/ok"
}

# round KIND R - one round: fresh milter, warm-up, N timed messages, queue
# drained, records checked. Prints one TSV line
# kind round rate p50 p95 cpu_ms_per_msg redis_lag_ms redis_cpu_ms_per_msg.
round() {
    local kind=$1 r=$2 tag c0 c1 res x0 lag=- t0 rate p50 p95 r0 r1 rcpu=-
    tag=$kind-r$r-$$
    start_milter "$kind"
    sender "$tag-warm" "$CONC" >/dev/null || die "$kind round $r: warm-up failed"
    pf_queue_empty_wait "$W/pf" 120 || die "$kind round $r: the queue did not drain"
    [ "$kind" = redis ] && x0=$(xlen)
    c0=$(cpu_ticks "$MPID") r0=$(cpu_ticks "$RPID")
    res=$(sender "$tag" "$N") || die "$kind round $r: the sender failed"
    c1=$(cpu_ticks "$MPID")
    if [ "$kind" = redis ]; then
        t0=$(date +%s%N)
        wait_for 60 xlen_at_least $((x0 + N)) || die "records missing in Redis"
        lag=$((($(date +%s%N) - t0) / 1000000))
        r1=$(cpu_ticks "$RPID")
        rcpu=$(echo "($r1 - $r0) * 1000 / $(getconf CLK_TCK) / $N" | bc -l)
    fi
    pf_queue_empty_wait "$W/pf" 300 || die "$kind round $r: the queue did not drain"
    stop_milter
    check_round "$kind" "$tag"
    say "$kind round $r: $res cpu=$(((c1 - c0) * 1000 / $(getconf CLK_TCK))) ms lag=$lag ms"
    read -r _ rate _ p50 _ p95 _ <<<"${res//=/ }"     # "rate=R p50=P p95=Q wall=S"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$r" "$rate" "$p50" "$p95" \
        "$(echo "($c1 - $c0) * 1000 / $(getconf CLK_TCK) / $N" | bc -l)" "$lag" "$rcpu"
}

# median - the median of the numbers on stdin.
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] \
        : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# col TSV KIND FIELD - the median of FIELD over KIND's rounds.
col() { awk -F'\t' -v k="$2" -v f="$3" '$1 == k { print $f }' "$1" | median; }

# redis_col KIND FIELD FORMAT - the median of FIELD for the redis rounds,
# printed with FORMAT; "-" for the file rounds.
redis_col() {
    # shellcheck disable=SC2059  # FORMAT is one of ours
    if [ "$1" = redis ]; then printf "$3" "$(col "$TSV" redis "$2")"; else echo -; fi
}

# append_rates KIND - the median "records/s" of 3 runs of the driver's
# append (THREADS x PER records), and of records/s including the close
# (everything written). Prints "appends/s stored/s".
append_rates() {
    local uri i out a s
    for i in 1 2 3; do
        if [ "$1" = redis ]; then
            redis-cli -p "$RPORT" DEL kyso:decisions >/dev/null
            uri="redis://127.0.0.1:$RPORT/0?spool=$W/spool-drv"
        else
            rm -rf "$W/drv" && mkdir -p "$W/drv"
            uri="file:$W/drv"
        fi
        mkdir -p "$W/spool-drv"
        out=$("$DRIVER" append "$uri" "B$i" "$THREADS" "$PER" 2>&1) ||
            die "test-store-redis append $uri failed: $out"
        # "# appended N records in S s (R/s), slowest append X us, close Y ms"
        a=$(sed -n 's/.* in \([0-9.]*\) s .*close \([0-9]*\) ms.*/\1 \2/p' <<<"$out")
        read -r secs close <<<"$a"
        echo "$(echo "$THREADS * $PER / $secs" | bc -l) \
$(echo "$THREADS * $PER / ($secs + $close / 1000)" | bc -l)"
    done >"$W/rates-$1"
    echo "$(cut -d' ' -f1 "$W/rates-$1" | median) $(cut -d' ' -f2 "$W/rates-$1" | median)"
}

. "$TOP/tests/e2e/postfix.sh"
find_tools "${1:-}"
W=$(mktemp -d /tmp/kyso-bench-milter-redis.XXXXXX) || die "mktemp failed"
chmod 0755 "$W"
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$OUT" "$W/store" "$W/spool" "$W/bin"
BUILT=$(date -u -r "$MILTER_BIN" '+%Y-%m-%d %H:%M')
# a copy, so that a rebuild during the run cannot favour one store
cp "$MILTER_BIN" "$W/bin/kyso-milter" || die "cannot copy $MILTER_BIN"
MILTER_BIN_ORIG=$MILTER_BIN MILTER_BIN=$W/bin/kyso-milter
say "work directory $W; $(machine)"
start_redis
start_postfix
make_message
write_conf file
write_conf redis
TSV=$W/rounds.tsv
: >"$TSV"
for r in $(seq 1 "$ROUNDS"); do
    for kind in file redis; do round "$kind" "$r" >>"$TSV"; done
done

{
    echo "Machine: $(machine). $(date -u +%Y-%m-%d)."
    echo "kyso-milter: $MILTER_BIN_ORIG of $BUILT UTC, tree" \
        "$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')."
    echo "N=$N messages of 1.36 MB (big-1m-signed.pdf) per round, concurrency $CONC," \
        "$ROUNDS rounds of each store, alternating; medians. Redis appendfsync $REDIS_FSYNC."
    echo
    echo "| store | msg/s | end-of-DATA p50 ms | p95 ms | milter CPU ms/msg |" \
        "redis-server CPU ms/msg | Redis lag after the last reply, ms | msg/s per round |"
    echo "|---|---|---|---|---|---|---|---|"
    for kind in file redis; do
        printf '| %s | %.1f | %.1f | %.1f | %.2f | %s | %s | %s|\n' "$kind" \
            "$(col "$TSV" $kind 3)" "$(col "$TSV" $kind 4)" "$(col "$TSV" $kind 5)" \
            "$(col "$TSV" $kind 6)" "$(redis_col $kind 8 %.2f)" "$(redis_col $kind 7 %d)" \
            "$(awk -F'\t' -v k=$kind '$1 == k { printf "%s ", $3 }' "$TSV")"
    done
    ratio=$(echo "$(col "$TSV" redis 3) / $(col "$TSV" file 3)" | bc -l)
    printf '\nredis/file throughput: %.3f (target >= 0.95): %s\n' "$ratio" \
        "$( (($(echo "$ratio >= 0.95" | bc -l))) && echo met || echo '**NOT met**')"
    # each redis round against the file round just before it (same load)
    awk -F'\t' '$1 == "file" { f[$2] = $3 } $1 == "redis" { printf "%.3f\n", $3 / f[$2] }' \
        "$TSV" >"$W/paired"
    printf 'redis/file, round by round: %s(median %.3f)\n' "$(tr '\n' ' ' <"$W/paired")" \
        "$(median <"$W/paired")"
    if [ -x "$DRIVER" ]; then
        echo
        echo "store_append alone (tests/unit/test-store-redis append, $THREADS threads x" \
            "$PER records of about 200 bytes, median of 3):"
        echo
        echo "| store | appends/s (calls return) | records/s stored (close included) |"
        echo "|---|---|---|"
        for kind in file redis; do
            read -r a s <<<"$(append_rates $kind)"
            printf '| %s | %.0f | %.0f |\n' "$kind" "$a" "$s"
        done
    fi
} | tee "$OUT/milter-redis.md"
