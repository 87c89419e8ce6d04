#!/bin/bash
# tests/e2e/run-restart.sh - kyso-milter killed with SIGKILL while mail flows
# loses no mail.  Two private Postfix instances (tests/e2e/postfix.sh): A, a
# sending MTA with no milter, relays everything to B, which runs kyso-milter
# (milter_default_action = tempfail) and delivers to Maildirs.  60 messages,
# half with a signed PDF and half with an unsigned one, go into A; the
# milter is killed with SIGKILL on the way and started again 3 s later on
# the same (stale) socket.  In the end every signed message is delivered
# exactly once, every unsigned one comes back to its sender as a bounce, B
# told A to retry (451) during the outage, and the decision records match
# what B answered.  TAP output.  Needs root (Postfix's master).  It must never
# touch the system Postfix, nor signal any process it did not start.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/common.sh"
N=60

e2e_require
e2e_fixtures pdf/pdfsig-org.pdf
e2e_workdir restart
A=$base/a B=$base/b
mkdir -p "$base/msgs" "$A" "$B"

e2e_write_conf gw-restart "Notify no"
e2e_milter_start 1; ok $? "kyso-milter starts"
pf_start "$B" "unix:$sock" >"$base/pf-b.log" 2>&1
ok $? "instance B (kyso-milter, milter_default_action=tempfail) starts"
pf_start "$A" >"$base/pf-a.log" 2>&1 && pf_enable_smtp "$A" >>"$base/pf-a.log" 2>&1 &&
  pf_postconf "$A" myhostname=mx-a.kyso.test "relayhost=[127.0.0.1]:$(pf_port "$B")" \
    default_transport=smtp virtual_mailbox_domains=sotttt.demo.gov.vn >>"$base/pf-a.log" 2>&1
ok $? "instance A (no milter) starts, relays to B, keeps only its senders' domain"

# N messages: odd numbers carry the signed PDF, even ones the unsigned one.
python3 - "$base/msgs" "$N" "$fx/pdf/pdfsig-org.pdf" "$fx/pdf/plain.pdf" <<'PY'
import sys
from email.message import EmailMessage
out, count, signed, plain = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
for i in range(1, count + 1):
    kind = "signed" if i % 2 else "unsigned"
    m = EmailMessage()
    m["From"] = "vanthu@sotttt.demo.gov.vn"
    m["To"] = "tiepnhan@ubnd.demo.gov.vn"
    m["Subject"] = "restart-%02d-%s" % (i, kind)
    m["Message-ID"] = "<restart-%02d-%s@sotttt.demo.gov.vn>" % (i, kind)
    m.set_content("Cong van so %d.\n" % i)
    m.add_attachment(open(signed if i % 2 else plain, "rb").read(), maintype="application",
                     subtype="pdf", filename="cong-van-%02d.pdf" % i)
    open("%s/%02d-%s.eml" % (out, i, kind), "wb").write(bytes(m))
PY
(
  for f in "$base"/msgs/*.eml; do
    python3 "$send" --port "$(pf_port "$A")" --from vanthu@sotttt.demo.gov.vn \
      --to tiepnhan@ubnd.demo.gov.vn "$f" | sed "s|^|$(basename "$f" .eml) |"
  done >"$base/inject.log" 2>&1
) &
bgpid=$!

# Kill the milter once about 20 messages were decided at B, while the rest flow.
for _ in $(seq 300); do
  [ "$(cat "$recs" 2>/dev/null | wc -l)" -ge 20 ] && break
  sleep 0.1
done
kill -KILL "$mpid"; { wait "$mpid"; } 2>/dev/null; st=$?
sent_then=$(wc -l <"$base/inject.log") decided_then=$(wc -l <"$recs")
mpid=
[ "$st" -eq 137 ]
ok $? "kyso-milter killed with SIGKILL ($decided_then decided, $sent_then of $N sent)"
[ -S "$sock" ]; ok $? "SIGKILL left the socket file behind"
sleep 3
e2e_milter_start 2; ok $? "kyso-milter starts again on the same socket over the stale file"
kill -0 "$mpid" 2>/dev/null && [ "$(grep -c ' started on local:' "$base/milter.log")" -eq 2 ] &&
  ! grep -q ' error: ' "$base/milter.log"
ok $? "the restarted daemon runs, logged one start line per start and no error"

wait "$bgpid"; bgpid=
[ "$(grep -c "RESULT 250 " "$base/inject.log")" -eq "$N" ]
ok $? "all $N messages were accepted by A"
t0=$SECONDS
until pf_queue_empty_wait "$A" 0 >/dev/null 2>&1 || [ $((SECONDS - t0)) -ge 90 ]; do
  postqueue -c "$A/etc" -f 2>/dev/null; sleep 1
done
pf_queue_empty_wait "$A" 1 >/dev/null 2>&1 && pf_queue_empty_wait "$B" 10 >/dev/null 2>&1
ok $? "A's and B's queues drain ($((SECONDS - t0)) s after the last message went in)"

# Deliveries at B, counted by Subject.
md=$(pf_maildir "$B" tiepnhan@ubnd.demo.gov.vn)
cat "$md"/new/* "$md"/cur/* 2>/dev/null | grep -o '^Subject: restart-[0-9]*-[a-z]*' |
  sed 's/^Subject: //' | sort | uniq -c >"$base/delivered.txt"
bad=0
for i in $(seq 1 2 "$N"); do
  s=$(printf 'restart-%02d-signed' "$i")
  c=$(awk -v s="$s" '$2 == s { print $1 }' "$base/delivered.txt")
  [ "${c:-0}" -eq 1 ] || { bad=$((bad + 1)); echo "# $s delivered ${c:-0} times"; }
done
[ "$bad" -eq 0 ]
ok $? "every signed message delivered exactly once at B ($((N / 2 - bad)) of $((N / 2)))"
! grep -q unsigned "$base/delivered.txt"; ok $? "no unsigned message delivered at B"

# Bounces at A: for each unsigned message, A's smtp client logged status=bounced
# with B's 550 5.7.1 (unsigned), and the sender's Maildir on A holds its bounce.
bad=0
for i in $(seq 2 2 "$N"); do
  mid=$(printf 'restart-%02d-unsigned@sotttt.demo.gov.vn' "$i")
  qid=$(grep -F "message-id=<$mid>" "$A/maillog" |
    sed -n 's/.*: \([0-9A-F]*\): message-id=.*/\1/p')
  grep -F " $qid: to=<tiepnhan@ubnd.demo.gov.vn>" "$A/maillog" | grep 'status=bounced' |
    grep -q 'said: 550.5\.7\.1 .*(unsigned)' ||
    { bad=$((bad + 1)); echo "# no 550 bounce for $mid"; }
done
[ "$bad" -eq 0 ]; ok $? "A's log: every unsigned message bounced with B's 550 5.7.1 (unsigned)"
bmd=$(pf_maildir "$A" vanthu@sotttt.demo.gov.vn)
bounces=$(cat "$bmd"/new/* "$bmd"/cur/* 2>/dev/null |
  grep -o '^Subject: restart-[0-9]*-unsigned' | sort -u | wc -l)
nb=$(find "$bmd/new" "$bmd/cur" -type f 2>/dev/null | wc -l)
[ "$bounces" -eq $((N / 2)) ] && [ "$nb" -eq $((N / 2)) ]
ok $? "the sender got one bounce per unsigned message ($nb bounces, $bounces distinct)"

# The outage: B answered 451 4.7.1 and A deferred, then delivered or bounced.
t451=$(grep -c 'milter-reject: .* 451 4\.7\.1 ' "$B/maillog")
# A 451 from B must come from an SMTP session whose milter connection failed
# (a "warning: ... Milter ..." of the same smtpd since its "connect from"):
# it is the dead milter's, not a tempfail decided by kyso-milter.
t451_alive=$(awk '$5 ~ /^postfix\/smtpd\[/ {
    p = $5; if ($6 == "connect" && $7 == "from") failed[p] = 0
    else if ($6 == "warning:" && tolower($0) ~ /milter/) failed[p] = 1
    else if ($0 ~ /milter-reject: .* 451 4\.7\.1 / && !failed[p]) n++
  } END { print n + 0 }' "$B/maillog")
deferred=$(grep 'status=deferred' "$A/maillog" | grep -c 'said: 451 4\.7\.1 ')
dmsg=$(grep 'status=deferred' "$A/maillog" | grep 'said: 451 4\.7\.1 ' |
  sed -n 's/.*: \([0-9A-F]*\): to=.*/\1/p' | sort -u | wc -l)
[ "$t451" -gt 0 ] && [ "$deferred" -gt 0 ]
ok $? "during the outage B answered 451 4.7.1 ($t451 times) and A deferred $dmsg messages"
[ "$t451_alive" -eq 0 ]
ok $? "every 451 came from a session whose milter connection had failed ($t451_alive did not)"
echo "# B 451 replies: $t451; A deferrals: $deferred, of $dmsg distinct messages"

# The decision records: every line whole, one record per answer B gave.
jq -c . "$recs" >/dev/null 2>&1; ok $? "every line of the decision log is a JSON record"
jq -r -R 'fromjson? | [.queue_id, .action, .reason // "-", .message_id, .ref] | @tsv' "$recs" \
  >"$base/recs.tsv"
grep 'status=sent (delivered to maildir)' "$B/maillog" | grep -F 'to=<tiepnhan@ubnd.demo.gov.vn>' |
  sed -n 's/.*: \([0-9A-F]*\): to=.*/\1/p' >"$base/b-delivered.txt"
bad=0
while read -r q; do
  [ "$(awk -v q="$q" '$1 == q && $2 == "accept" && $3 == "ok" && $4 ~ /-signed@/' \
    "$base/recs.tsv" | wc -l)" -eq 1 ] || { bad=$((bad + 1)); echo "# delivered $q: no record"; }
done <"$base/b-delivered.txt"
[ "$bad" -eq 0 ] && [ -s "$base/b-delivered.txt" ]
ok $? "each message delivered by B has one accept record for a signed message"
grep 'milter-reject: END-OF-MESSAGE' "$B/maillog" | grep ' 5\.7\.1 ' |
  grep -o 'KS-[0-9A-Z]\{12\}' | sort -u >"$base/b-refs.txt"
bad=0
while read -r r; do
  [ "$(awk -v r="$r" '$5 == r && $2 == "reject" && $3 == "unsigned" && $4 ~ /-unsigned@/' \
    "$base/recs.tsv" | wc -l)" -eq 1 ] || { bad=$((bad + 1)); echo "# refused $r: no record"; }
done <"$base/b-refs.txt"
[ "$bad" -eq 0 ] && [ "$(wc -l <"$base/b-refs.txt")" -ge $((N / 2)) ]
ok $? "each 550 B gave has one reject record with its reference id ($(wc -l <"$base/b-refs.txt"))"
awk '($4 ~ /-unsigned@/ && $2 != "reject") || ($4 ~ /-signed@/ && $2 != "accept")' \
  "$base/recs.tsv" >"$base/wrong.txt"
[ ! -s "$base/wrong.txt" ]; ok $? "no record accepts an unsigned message or refuses a signed one"
total=$(wc -l <"$base/recs.tsv")
orphan=$((total - $(wc -l <"$base/b-delivered.txt") - $(wc -l <"$base/b-refs.txt")))
again=$(cut -f4 "$base/recs.tsv" | sort | uniq -d | wc -l)
echo "# records: $total ($(grep -c '	accept	' "$base/recs.tsv") accept," \
  "$(grep -c '	reject	' "$base/recs.tsv") reject); $again messages have more than one;" \
  "$orphan decided but not answered (killed)"

e2e_milter_stop; ok $? "kyso-milter stops cleanly"
e2e_finish "B's log" "$B" "A's log" "$A"
