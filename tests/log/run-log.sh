#!/bin/sh
# run-log.sh - "kyso log" as a postmaster sees it, over a file store made
# by mkrecords.py (500 records in decisions.jsonl.2.gz, .1 and the current
# file, two damaged lines): every filter's count, the table columns, "show"
# with the Vietnamese and English reasons, --json round trip, --csv read
# back with Python's csv module, rotated files searched, damaged lines
# skipped with a warning, exit statuses, the configuration's Store, and
# -f printing a record appended after it started.  The expected values come
# from mkrecords.py's own list of records (expect.json), never from kyso.
# Prints TAP; needs python3.
set -u
top_srcdir=${top_srcdir:-.}
KYSO=${KYSO:-./milter/kyso}
TZ=Asia/Ho_Chi_Minh
export TZ
dir=$(mktemp -d /tmp/kyso-log.XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
python3 "$top_srcdir/tests/log/mkrecords.py" "$dir" ||
    { echo "1..1"; echo "not ok 1 - mkrecords.py"; exit 1; }
S="--store file:$dir/store"
n=0

# check NAME COND... - one TAP line for a shell condition.
check() {
    name=$1; shift
    n=$((n + 1))
    if "$@"; then echo "ok $n - $name"; else echo "not ok $n - $name"; fi
}
eq() { [ "$1" = "$2" ] || { echo "# got '$1', want '$2'"; return 1; }; }
has() { case $1 in *"$2"*) return 0 ;; esac; echo "# '$2' not in output"; return 1; }
# e EXPR - a value of expect.json (a Python expression on e).
e() { python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print($1)" "$dir/expect.json"; }
# count ARGS... - how many records kyso log --json --limit 0 ARGS prints.
count() { $KYSO log $S --json --limit 0 "$@" 2>/dev/null | wc -l | tr -d ' '; }

echo "1..34"

# --- the default view and each filter ------------------------------------
got=$($KYSO log $S --json 2>/dev/null | python3 -c \
    'import json,sys; print(" ".join(json.loads(l)["ref"] for l in sys.stdin))')
check "default: the last 50 decisions, oldest first" eq "$got" "$(e '" ".join(e["last50"])')"
got=$($KYSO log $S --json --limit 300 2>/dev/null | python3 -c \
    'import json,sys; print(" ".join(json.loads(l)["ref"] for l in sys.stdin))')
check "--limit 300 reaches back into the rotated file" eq "$got" "$(e '" ".join(e["last300"])')"
got=$($KYSO log $S --json --action accept 2>/dev/null | python3 -c \
    'import json,sys; print(" ".join(json.loads(l)["ref"] for l in sys.stdin))')
check "a filter the store cannot apply exactly still gives the last 50 matches" eq "$got" \
    "$(e '" ".join(e["accept_last50"])')"
check "--since 2d" eq "$(count --since 2d)" "$(e 'e["since_2d"]')"
check "--since and --until (local date and time)" eq \
    "$(count --since "$(e 'e["window"]["since"]')" --until "$(e 'e["window"]["until"]')")" \
    "$(e 'e["window"]["count"]')"
rot=$(e 'e["rotated_until"]["count"]')
check "--until before the current file: rotated .1 and .2.gz are searched" eq \
    "$(count --until "$(e 'e["rotated_until"]["until"]')")" "$rot"
check "... and that is more than the compressed file holds" \
    [ "$rot" -gt "$(e 'e["gz_count"]')" ]
check "--sender, any case" eq "$(count --sender "$(e 'e["sender"]["arg"].upper()')")" \
    "$(e 'e["sender"]["count"]')"
check "--sender <addr> is the same" eq "$(count --sender "<$(e 'e["sender"]["arg"]')>")" \
    "$(e 'e["sender"]["count"]')"
check "--sender with the default limit finds all of a rare sender's" eq \
    "$($KYSO log $S --json --sender "$(e 'e["sender"]["arg"]')" 2>/dev/null | wc -l | tr -d ' ')" \
    "$(e 'e["sender"]["count"]')"
check "--rcpt" eq "$(count --rcpt "$(e 'e["rcpt"]["arg"]')")" "$(e 'e["rcpt"]["count"]')"
check "--domain: sender's or a recipient's, subdomains too" eq \
    "$(count --domain "$(e 'e["domain"]["arg"]')")" "$(e 'e["domain"]["count"]')"
check "--action reject (applied, or would be in monitor mode)" eq \
    "$(count --action reject)" "$(e 'e["action"]["reject"]')"
check "--action tempfail" eq "$(count --action tempfail)" "$(e 'e["action"]["tempfail"]')"
check "--reason" eq "$(count --reason cert_expired)" "$(e 'e["reason"]["count"]')"
check "filters combine" eq \
    "$(count --reason cert_expired --action reject --domain dongthap.gov.vn)" \
    "$(e 'e["combined"]["count"]')"
got=$($KYSO log $S --json --ref "$(e 'e["ref"]["arg"]')" 2>/dev/null |
      python3 -c 'import json,sys; print(",".join(json.loads(l)["ref"] for l in sys.stdin))')
check "--ref typed in lower case finds its one record" eq "$got" "$(e 'e["ref"]["ref"]')"

# --- the table ------------------------------------------------------------
out=$($KYSO log $S --ref "$(e 'e["table"]["ref"]')" 2>/dev/null)
check "table header names the columns in order" eq \
    "$(echo "$out" | head -1 | tr -s ' ')" "TIME REF NODE SENDER RECIPIENTS ACTION REASON DOCUMENTS"
row=$(echo "$out" | sed -n 2p)
check "table row: local time, ref, node, sender" has "$row" \
    "$(e 'e["table"]["time"]')  $(e 'e["table"]["ref"]')  $(e 'e["table"]["node"]')"
check "table row: sender, first recipient +N" has "$(echo "$row" | tr -s ' ')" \
    "$(e 'e["table"]["sender"]') $(e 'e["table"]["rcpts"]')"
check "table row: monitor mode shows what enforce would do, then the reason" has \
    "$(echo "$row" | tr -s ' ')" "$(e 'e["table"]["action"]') $(e 'e["table"]["reason"]')"
check "table row ends with the documents" has "$row" "$(e 'e["table"]["documents"]')"

# --- show -------------------------------------------------------------------
out=$($KYSO log $S show "$(e 'e["show"]["ref"]')" 2>&1)
check "show: the reason in Vietnamese and English" sh -c \
    'case "$1" in *"vi: $2"*"en: $3"*) exit 0;; esac; exit 1' - "$out" \
    "$(e 'e["show"]["vi"]')" "$(e 'e["show"]["en"]')"
ok=1
for k in subject issuer serial doc smtp_reply notice_why; do
    case $out in *"$(e "e['show']['$k']")"*) ;; *) ok=0; echo "# show lacks $k" ;; esac
done
check "show: signer subject, issuer, serial, document, SMTP reply, why no notice" [ "$ok" = 1 ]

# --- exports ------------------------------------------------------------------
$KYSO log $S --json --limit 0 >"$dir/all.jsonl" 2>"$dir/all.err"; rc=$?
check "--json --limit 0 gives back every valid line as stored" \
    cmp -s "$dir/all.jsonl" "$dir/valid.jsonl"
check "damaged lines: exit 0, one warning each on stderr" eq \
    "$rc $(grep -c 'skipped a damaged record' "$dir/all.err")" "0 2"
$KYSO log $S --csv --limit 0 >"$dir/all.csv" 2>/dev/null
got=$(python3 - "$dir/all.csv" "$dir/expect.json" <<'EOF'
import csv, json, sys
e = json.load(open(sys.argv[2], encoding="utf-8"))
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8", newline="")))
want = ["time", "ref", "node", "sender", "recipients", "action", "reason", "documents"]
row = [r for r in rows[1:] if r[1] == e["csv"]["ref"]]
print(rows[0] == want, len(rows) - 1 == e["total"],
      len(row) == 1 and row[0][3] == e["csv"]["sender"]
      and row[0][4] == e["csv"]["recipients"] and row[0][7] == e["csv"]["documents"])
EOF
)
check "--csv: header, one row per record, commas and quotes survive" eq "$got" "True True True"

# --- exit statuses and bad input ----------------------------------------------
$KYSO log $S --action quarantine >"$dir/o" 2>"$dir/e"; rc=$?
check "nothing matched: exit 1, said on stderr, nothing on stdout" eq \
    "$rc $(wc -c <"$dir/o" | tr -d ' ') $(grep -c 'no decision matched' "$dir/e")" "1 0 1"
$KYSO log $S --since 'last tuesday' >/dev/null 2>"$dir/e"; rc=$?
check "--since in a wrong format: exit 2 with the formats" eq \
    "$rc $(grep -c '2026-11-30' "$dir/e")" "2 1"
$KYSO log $S --since 2099-01-01 >/dev/null 2>"$dir/e"; rc=$?
check "--since in the future: exit 1, said so" eq "$rc $(grep -c 'future' "$dir/e")" "1 1"
mkdir "$dir/empty"
$KYSO log --store "file:$dir/empty" >/dev/null 2>&1; rc=$?
check "an empty store: exit 1, and reading it created no file" eq \
    "$rc $(ls "$dir/empty" | wc -l | tr -d ' ')" "1 0"
$KYSO log --store "file:$dir/no-such-dir" >/dev/null 2>&1; rc=$?
check "a missing store: exit 2" eq "$rc" 2
printf 'Socket local:%s/sock\nTrustAnchors %s/anchors.pem\nStore file:%s/store\n' \
    "$dir" "$dir" "$dir" >"$dir/kyso-milter.conf"
check "-c CONFIG: the store comes from its Store key" eq \
    "$($KYSO log -c "$dir/kyso-milter.conf" --json --limit 0 2>/dev/null | wc -l | tr -d ' ')" \
    "$(e 'e["total"]')"

# --- follow -------------------------------------------------------------------
timeout 6 $KYSO log $S -f --json >"$dir/follow.out" 2>"$dir/follow.err" &
fpid=$!
sleep 1.5
e 'json.dumps(e["new"], ensure_ascii=False, separators=(",", ":"))' >>"$dir/store/decisions.jsonl"
i=0
while [ $i -lt 40 ] && ! grep -q "$(e 'e["new"]["ref"]')" "$dir/follow.out"; do
    sleep 0.1; i=$((i + 1))
done
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
refs_of() {
    python3 -c 'import json,sys; print(",".join(json.loads(l)["ref"] for l in open(sys.argv[1])))' \
        "$1"
}
check "-f prints a record appended after it started, and only that one" eq \
    "$(refs_of "$dir/follow.out")" "$(e 'e["new"]["ref"]')"
