#!/bin/bash
# tests/e2e/run-gateways.sh - several gateways, one Redis: two kyso-milter
# daemons (NodeName gw-a and gw-b), each in front of its own private
# Postfix instance (tests/e2e/postfix.sh), write their decisions to one
# redis-server that this script starts on a loopback port (appendonly yes,
# appendfsync always, as doc/redis.md asks).  A signed, an unsigned and a
# tampered PDF go through each gateway; we check the SMTP replies, that
# `kyso log --store redis://...` shows the six decisions with the node that
# took each, that --ref finds one of each node, that `kyso log -f` started
# before a seventh message prints it; then Redis is killed with SIGKILL,
# two messages go through gw-a, Redis comes back, and both records must be
# in the stream within seconds (replayed from gw-a's RedisSpool), in the
# order they were sent; gw-a logs "Redis unreachable" once and "Redis
# back" once.  The same three PDFs go through gw-a first, so gw-b finds
# each in the shared verification cache: its records say
# "cache":{"shared":1,"by":"gw-a"}.  TAP output.  Needs root (Postfix's master),
# redis-server and redis-cli.
#
# It must never touch the system Postfix or a Redis it did not start, and
# never signal a process it did not start (the two daemons, the follower,
# the redis-server: by the pid it recorded; Postfix: through pf_stop).
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/common.sh"
kyso=$top_builddir/milter/kyso

e2e_require redis-server redis-cli jq
e2e_fixtures pdf/pdfsig-org.pdf pdf/plain.pdf pdf/attack/digest-mismatch.pdf
e2e_workdir gateways
declare -A gwpid=()
rpid='' rport=''

# gw_cleanup - the EXIT trap: stop both daemons and the redis-server we
# started (each by its recorded pid), then what common.sh cleans up.
gw_cleanup() {
  local g
  for g in "${!gwpid[@]}"; do
    kill "${gwpid[$g]}" 2>/dev/null && wait "${gwpid[$g]}" 2>/dev/null
  done
  redis_kill
  e2e_cleanup
}
trap gw_cleanup EXIT

# redis_start - a redis-server on 127.0.0.1:$rport with its data in
# $base/redis (kept across restarts: the append-only file brings the
# stream back); waits at most 10 s for PONG.  Sets $rpid.
redis_start() {
  mkdir -p "$base/redis"
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly yes \
    --appendfsync always --dir "$base/redis" --logfile "$base/redis/log" \
    --daemonize no &
  rpid=$!
  for _ in $(seq 200); do
    [ "$(redis-cli -p "$rport" PING 2>/dev/null)" = PONG ] && return 0
    kill -0 "$rpid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# redis_kill - SIGKILL our redis-server, if it still runs, and reap it.
redis_kill() {
  [ -n "$rpid" ] || return 0
  kill -9 "$rpid" 2>/dev/null
  wait "$rpid" 2>/dev/null
  rpid=
}

# redis_port - print a TCP port that no socket on this host uses, below
# the range the kernel hands out to outgoing connections, so that no
# client connection takes it while Redis is down between its two runs.
redis_port() {
  local eph p hex
  read -r eph _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph=32768
  for _ in $(seq 50); do
    p=$((10000 + (RANDOM * 32768 + RANDOM) % (eph - 10000)))
    hex=$(printf '%04X' "$p")
    awk -v h=":$hex" 'FNR > 1 && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' \
      /proc/net/tcp /proc/net/tcp6 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}

# gw_stop NAME - SIGTERM gateway NAME's daemon and wait at most 10 s for it;
# its exit status (1 when it still runs: its pid stays for the trap).
gw_stop() {
  local rc=0
  kill -TERM "${gwpid[$1]}" 2>/dev/null
  for _ in $(seq 100); do
    kill -0 "${gwpid[$1]}" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "${gwpid[$1]}" 2>/dev/null && return 1
  wait "${gwpid[$1]}" || rc=$?
  unset "gwpid[$1]"
  return "$rc"
}

# gw_conf NAME - write $base/NAME.conf: socket $base/NAME.sock, node NAME,
# the fixtures' PKI, *.demo.gov.vn watched, no notices (a notice would be
# mail through the milter, and one more record), the shared Redis store,
# this gateway's own RedisSpool.
gw_conf() {
  mkdir -p "$base/spool-$1"
  cat >"$base/$1.conf" <<EOF
Socket local:$base/$1.sock
SocketMode 0666
Syslog no
AuthservID mx.kyso.test
NodeName $1
TrustAnchors $fx/pki/anchors
Intermediates $fx/pki/intermediates
CRLs $fx/pki/crl
EnforceDomains *.demo.gov.vn
Notify no
Store $uri
RedisSpool $base/spool-$1
EOF
}

# gw_start NAME - run the daemon on $base/NAME.conf in the foreground as a
# background job (stderr to $base/NAME.log) and wait at most 5 s for its
# socket and its "started on local:" line.  Returns 1 when it died or was
# too slow (its pid stays recorded for the trap).
gw_start() {
  "$milter" -f -c "$base/$1.conf" 2>>"$base/$1.log" &
  gwpid[$1]=$!
  for _ in $(seq 50); do
    [ -S "$base/$1.sock" ] && grep -q ' started on local:' "$base/$1.log" && return 0
    kill -0 "${gwpid[$1]}" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# mkmail OUT ID PDF - a message from vanthu@sotttt.demo.gov.vn with
# Message-ID <ID@sotttt.demo.gov.vn> and PDF attached as cong-van.pdf.
mkmail() {
  python3 - "$@" <<'PY'
import sys
from email.message import EmailMessage
out, mid, pdf = sys.argv[1:4]
m = EmailMessage()
m["From"] = "vanthu@sotttt.demo.gov.vn"
m["To"] = "tiepnhan@ubnd.demo.gov.vn"
m["Subject"] = "Cong van " + mid
m["Message-ID"] = "<%s@sotttt.demo.gov.vn>" % mid
m.set_content("Kinh gui Van phong UBND tinh,\nXin gui kem cong van.\n")
m.add_attachment(open(pdf, "rb").read(), maintype="application", subtype="pdf",
                 filename="cong-van.pdf")
open(out, "wb").write(bytes(m))
PY
}

# send_via NAME ID - send message $base/msg/ID.eml through gateway NAME's
# Postfix; print the RESULT line.
send_via() {
  python3 "$send" --port "$(pf_port "$base/pf-$1")" --from vanthu@sotttt.demo.gov.vn \
    --to "$2@ubnd.demo.gov.vn" "$base/msg/$2.eml"
}

# reply_ok RESULT KIND - the reply KIND (signed, unsigned, tampered) must get.
reply_ok() {
  case $2 in
    signed) [[ $1 == "RESULT 250 "* ]] ;;
    unsigned) [[ $1 == "RESULT 550 5.7.1 "*"(unsigned)"* ]] ;;
    tampered) [[ $1 == "RESULT 550 5.7.7 "*"(digest_mismatch)"* ]] ;;
  esac
}

# log_json ARGS... - `kyso log --store $ruri --json ARGS`, compacted with jq
# to "message_id node action reason ref" lines, oldest first.
log_json() {
  "$kyso" log --store "$ruri" --json "$@" 2>>"$base/kyso-log.err" |
    jq -r '[.message_id, .node, .action, .reason, .ref] | map(. // "-") | join(" ")'
}

# ---- set-up -------------------------------------------------------------------

rport=$(redis_port)
uri="redis://127.0.0.1:$rport/0"
ruri=$uri
redis_start; ok $? "redis-server started on 127.0.0.1:$rport (appendonly yes)"
for g in gw-a gw-b; do
  gw_conf "$g"
  gw_start "$g"; ok $? "kyso-milter $g starts on the shared Redis store"
  mkdir -p "$base/pf-$g"
  pf_start "$base/pf-$g" "unix:$base/$g.sock" >"$base/pf-$g-start.log" 2>&1
  ok $? "a private Postfix starts in front of $g"
done

mkdir -p "$base/msg"
declare -A pdf_of=([signed]=pdf/pdfsig-org.pdf [unsigned]=pdf/plain.pdf
  [tampered]=pdf/attack/digest-mismatch.pdf)
declare -A action_of=([signed]=accept [unsigned]=reject [tampered]=reject)
declare -A reason_of=([signed]=ok [unsigned]=unsigned [tampered]=digest_mismatch)
for g in gw-a gw-b; do
  for k in signed unsigned tampered; do
    mkmail "$base/msg/$g-$k.eml" "$g-$k" "$fx/${pdf_of[$k]}"
  done
done
mkmail "$base/msg/follow-7.eml" follow-7 "$fx/pdf/plain.pdf"
mkmail "$base/msg/down-8.eml" down-8 "$fx/pdf/pdfsig-org.pdf"
mkmail "$base/msg/down-9.eml" down-9 "$fx/pdf/plain.pdf"

# ---- 1. three kinds through each gateway ---------------------------------------

declare -A ref_of=()
: >"$base/want"
for g in gw-a gw-b; do
  for k in signed unsigned tampered; do
    r=$(send_via "$g" "$g-$k")
    reply_ok "$r" "$k"; ok $? "$g, $k PDF: ${r:0:60}"
    ref_of[$g-$k]=$(echo "$r" | grep -o 'KS-[0-9A-Z]\{12\}' | head -1)
    echo "$g-$k@sotttt.demo.gov.vn $g ${action_of[$k]} ${reason_of[$k]}" >>"$base/want"
  done
  pf_wait_mail "$base/pf-$g" "$g-signed@ubnd.demo.gov.vn" 1 20 >/dev/null
  ok $? "$g delivered the signed message"
done

# ---- 2. kyso log over Redis ---------------------------------------------------------

# The records reach Redis through each daemon's writer thread: wait for them.
for _ in $(seq 100); do
  [ "$(redis-cli -p "$rport" XLEN kyso:decisions)" -ge 6 ] && break
  sleep 0.05
done
log_json --limit 0 >"$base/got"
sort "$base/want" >"$base/want.s"
cut -d' ' -f1-4 "$base/got" | sed 's/^<//; s/> / /' | sort >"$base/got.s"
diff "$base/want.s" "$base/got.s" >"$base/diff" 2>&1; s=$?
ok $s "kyso log --json over Redis: the 6 decisions, each with its node, action and reason"
[ $s -eq 0 ] || sed 's/^/#   /' "$base/diff"
for g in gw-a gw-b; do
  for k in unsigned tampered; do
    grep -q "^<$g-$k@[^ ]* $g [a-z]* [a-z_]* ${ref_of[$g-$k]}\$" "$base/got"
    ok $? "$g, $k: the record holds the reference id of the SMTP reply (${ref_of[$g-$k]})"
  done
done
"$kyso" log --store "$ruri" --json --limit 0 2>>"$base/kyso-log.err" |
  jq -r '[.node, (.cache.shared // 0), (.cache.by // "-")] | join(" ")' | sort | uniq -c |
  awk '{print $2, $3, $4, $1}' >"$base/cache"
printf '%s\n' "gw-a 0 - 3" "gw-b 1 gw-a 3" | diff - "$base/cache" >/dev/null
ok $? "gw-b found the 3 documents gw-a had verified in the shared cache (\"cache\":{\"shared\":1,\"by\":\"gw-a\"}), gw-a none"
grep -c 'from the shared verification cache (verified by gw-a)' "$base/gw-b.log" |
  grep -qx 3
ok $? "gw-b's log says so for each of the 3 messages"
"$kyso" log --store "$ruri" >"$base/table" 2>>"$base/kyso-log.err"
[ "$(grep -c ' gw-a ' "$base/table")" -eq 3 ] && [ "$(grep -c ' gw-b ' "$base/table")" -eq 3 ]
ok $? "kyso log (table): three rows of gw-a and three of gw-b"
for g in gw-a gw-b; do
  ref=${ref_of[$g-unsigned]}
  "$kyso" log --store "$ruri" --ref "$ref" >"$base/ref-$g" 2>>"$base/kyso-log.err"
  [ "$(grep -c "$ref" "$base/ref-$g")" -eq 1 ] &&
    grep "$ref" "$base/ref-$g" | grep -q " $g .*unsigned"
  ok $? "kyso log --ref $ref finds $g's decision, with its node and reason"
  ref=${ref_of[$g-tampered]}
  "$kyso" log --store "$ruri" --ref "${ref#KS-}" --json 2>>"$base/kyso-log.err" |
    jq -e -s --arg g "$g" --arg r "$ref" \
      'length == 1 and .[0].node == $g and .[0].ref == $r and .[0].reason == "digest_mismatch"' \
      >/dev/null
  ok $? "kyso log --ref ${ref#KS-} --json (no KS- prefix): one record, $g's"
done

# ---- 3. kyso log -f sees a new decision -------------------------------------------

"$kyso" log --store "$ruri" -f --json >"$base/follow" 2>"$base/follow.err" &
bgpid=$!
# ready once its XREAD is blocked in Redis (CLIENT LIST shows the command)
for _ in $(seq 100); do
  redis-cli -p "$rport" CLIENT LIST | grep -q 'cmd=xread' && break
  sleep 0.05
done
r=$(send_via gw-b follow-7)
reply_ok "$r" unsigned; ok $? "gw-b, a 7th message (unsigned): ${r:0:60}"
ref7=$(echo "$r" | grep -o 'KS-[0-9A-Z]\{12\}' | head -1)
for _ in $(seq 100); do [ -s "$base/follow" ] && break; sleep 0.05; done
sleep 0.2
jq -e -s --arg r "$ref7" 'length == 1 and .[0].ref == $r and .[0].node == "gw-b"
  and .[0].message_id == "<follow-7@sotttt.demo.gov.vn>"' "$base/follow" >/dev/null
ok $? "kyso log -f, started before it, prints the 7th decision (and only it)"
kill "$bgpid" 2>/dev/null; wait "$bgpid" 2>/dev/null; bgpid=

# ---- 4. Redis killed: gw-a spools, replays when Redis is back ----------------------

redis_kill
t0=$(date +%s%N)
r8=$(send_via gw-a down-8)
r9=$(send_via gw-a down-9)
ms=$((($(date +%s%N) - t0) / 1000000))
reply_ok "$r8" signed && reply_ok "$r9" unsigned
ok $? "Redis down: gw-a still answers 250 and 550 5.7.1 (both in $ms ms)"
ref9=$(echo "$r9" | grep -o 'KS-[0-9A-Z]\{12\}' | head -1)
for _ in $(seq 60); do
  [ "$(cat "$base"/spool-gw-a/redis-*.jsonl 2>/dev/null | wc -l)" -ge 2 ] && break
  sleep 0.05
done
lines=$(cat "$base"/spool-gw-a/redis-*.jsonl 2>/dev/null | wc -l)
[ "$lines" -eq 2 ]; ok $? "the 2 records wait in gw-a's RedisSpool ($lines lines)"
redis_start; ok $? "redis-server restarted (the append-only file reloaded)"
t0=$(date +%s%N)
for _ in $(seq 200); do
  [ "$(redis-cli -p "$rport" XLEN kyso:decisions)" -ge 9 ] && break
  sleep 0.05
done
ms=$((($(date +%s%N) - t0) / 1000000))
n9=$(redis-cli -p "$rport" XLEN kyso:decisions)
[ "$n9" -eq 9 ] && [ "$ms" -le 5000 ]
ok $? "within 5 s of the restart the stream holds 9 records ($n9, after $ms ms)"
log_json --limit 0 >"$base/got9"
tail -2 "$base/got9" | cut -d' ' -f1-4 >"$base/last2"
printf '%s\n' "<down-8@sotttt.demo.gov.vn> gw-a accept ok" \
  "<down-9@sotttt.demo.gov.vn> gw-a reject unsigned" | diff - "$base/last2" >/dev/null
ok $? "kyso log: the two replayed records come last, in the order they were sent"
[ "$(tail -1 "$base/got9" | cut -d' ' -f5)" = "$ref9" ]
ok $? "the replayed refusal keeps the reference id of its SMTP reply ($ref9)"
{ cat "$base/got"; echo "<follow-7@sotttt.demo.gov.vn> gw-b reject unsigned $ref7"; } |
  diff - <(head -7 "$base/got9") >/dev/null
ok $? "the 7 earlier records are still there after the restart, first, in their order"
for _ in $(seq 40); do
  [ "$(cat "$base"/spool-gw-a/redis-*.jsonl 2>/dev/null | wc -l)" -eq 0 ] && break
  sleep 0.05
done
[ "$(cat "$base"/spool-gw-a/redis-*.jsonl 2>/dev/null | wc -l)" -eq 0 ]
ok $? "gw-a's spool is empty again"
[ "$(grep -c 'Redis unreachable' "$base/gw-a.log")" = 1 ] &&
  [ "$(grep -c 'Redis back' "$base/gw-a.log")" = 1 ]
ok $? "gw-a's log: one \"Redis unreachable\" line, one \"Redis back\" line"
grep -h 'Redis unreachable\|Redis back' "$base/gw-a.log" | sed 's/^/#   /'
[ ! -s "$base/kyso-log.err" ]; s=$?
ok $s "kyso log printed no warning or error"
[ $s -eq 0 ] || sed 's/^/#   /' "$base/kyso-log.err" | head -5

# ---- the end ----------------------------------------------------------------------

for g in gw-a gw-b; do
  gw_stop "$g"; ok $? "kyso-milter $g stops cleanly"
done
ln -s gw-a.log "$base/milter.log"      # what e2e_finish shows; gw-b's below
if [ "$failed" -ne 0 ]; then
  echo "# gw-b log:"; tail -10 "$base/gw-b.log" | sed 's/^/#   /'
  echo "# redis log:"; tail -10 "$base/redis/log" | sed 's/^/#   /'
fi
e2e_finish "postfix gw-a" "$base/pf-gw-a" "postfix gw-b" "$base/pf-gw-b"
