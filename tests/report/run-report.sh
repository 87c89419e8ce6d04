#!/bin/sh
# run-report.sh - "kyso report" as an agency uses it for its R15 report,
# over a file store made by mkrecords.py (about 4,000 decision records over
# 2024 and 2025, several domains and gateways, three damaged lines): for
# several (organisation, period) cases the plain text table and the CSV
# export hold the numbers mkrecords.py worked out from its own records (not
# from kyso); the HTML page is rendered by headless Chromium, whose DOM
# must hold the headings of the reporting forms and the same numbers, and
# whose screenshot must be made; the page is self-contained; record text is
# escaped; bad options get clear messages and the right exit status; the
# store is left as it was.  Prints TAP (plan at the end); needs python3,
# and Chromium (skipped as a whole without it; CHROMIUM=path to choose).
set -u
top_srcdir=${top_srcdir:-.}
KYSO=${KYSO:-./milter/kyso}
TZ=Asia/Ho_Chi_Minh
export TZ
here="$top_srcdir/tests/report"

chrome=${CHROMIUM:-}
for c in chromium chromium-browser google-chrome; do
    [ -n "$chrome" ] && break
    chrome=$(command -v "$c" 2>/dev/null)
done
if [ -z "$chrome" ]; then
    echo "1..0 # SKIP chromium is not installed (Debian: apt-get install chromium)"
    exit 0
fi

dir=$(mktemp -d /tmp/kyso-report.XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
python3 "$here/mkrecords.py" "$dir" ||
    { echo "not ok 1 - mkrecords.py"; echo "1..1"; exit 1; }
S="--store file:$dir/store"
# store_state - the store's files, their times and contents, and its folder's time.
store_state() {
    (cd "$dir/store" && ls -l --time-style=+%s && stat -c %Y . && cat ./* | cksum)
}
sums_before=$(store_state)
n=0

# check NAME COND... - one TAP line for a shell condition.
check() {
    what=$1; shift
    n=$((n + 1))
    if "$@"; then echo "ok $n - $what"; else echo "not ok $n - $what"; fi
}
eq() { [ "$1" = "$2" ] || { echo "# got '$1', want '$2'"; return 1; }; }
has() { grep -q -- "$2" "$1" || { echo "# '$2' not in $1"; return 1; }; }
# tap FILE - the "ok - ..." lines check.py wrote, numbered.
tap() {
    while IFS= read -r line; do
        case $line in
        "ok - "*) n=$((n + 1)); echo "ok $n - ${line#ok - }" ;;
        "not ok - "*) n=$((n + 1)); echo "not ok $n - ${line#not ok - }" ;;
        *) echo "$line" ;;
        esac
    done <"$1"
}
# chk KIND ARGS... - run check.py, then number its lines.
chk() {
    python3 "$here/check.py" "$@" >"$dir/chk.out" 2>&1 ||
        echo "not ok - check.py $1 failed: $(tail -1 "$dir/chk.out")" >>"$dir/chk.out"
    tap "$dir/chk.out"
}
# chrome ARGS... - headless Chromium with a profile of its own, bounded in time.
chrome() {
    HOME="$dir" timeout 60 "$chrome" --headless --disable-gpu --no-sandbox \
        --no-first-run --disable-dev-shm-usage --user-data-dir="$dir/profile" "$@"
}

# --- text and CSV for every case -------------------------------------------
python3 -c 'import json,sys
for c in json.load(open(sys.argv[1]))["cases"]: print(c["name"], " ".join(c["args"]))' \
    "$dir/expect.json" >"$dir/cases"
while read -r name args; do
    # shellcheck disable=SC2086  # the arguments hold no spaces
    $KYSO report $S $args >"$dir/$name.txt" 2>"$dir/$name.err"; rc=$?
    check "$name: text report, exit 0" eq "$rc" 0
    chk text "$dir/expect.json" "$name" "$dir/$name.txt"
    # shellcheck disable=SC2086
    $KYSO report $S $args --csv >"$dir/$name.csv" 2>/dev/null; rc=$?
    check "$name: CSV report, exit 0" eq "$rc" 0
    chk csv "$dir/expect.json" "$name" "$dir/$name.csv"
done <"$dir/cases"
check "damaged lines are said on standard error" \
    eq "$(grep -c 'skipped a damaged record' "$dir/all.err")" 3
check "a node name's terminal escape is not sent raw" \
    eq "$(tr -d -c '\033' <"$dir/all.txt" | wc -c | tr -d ' ')" 0
check "... but shown escaped" has "$dir/all.txt" 'gw<b>"x"\\x1B\[2J'

# --- HTML in headless Chromium ----------------------------------------------
for name in khanhhoa-2025 dongthap-months all; do
    args=$(sed -n "s/^$name //p; s/^$name\$//p" "$dir/cases")
    # shellcheck disable=SC2086
    $KYSO report $S $args --html "$dir/$name.html" 2>/dev/null; rc=$?
    check "$name: HTML page written, exit 0" eq "$rc" 0
    chrome --dump-dom "file://$dir/$name.html" >"$dir/$name.dom" 2>"$dir/chrome.err"
    check "$name: Chromium rendered the page" [ -s "$dir/$name.dom" ]
    chk dom "$dir/expect.json" "$name" "$dir/$name.dom" "$dir/$name.html"
done
chrome --window-size=1200,2000 --screenshot="$dir/shot.png" \
    "file://$dir/khanhhoa-2025.html" >/dev/null 2>"$dir/chrome.err"
check "Chromium made a screenshot of the page" [ -s "$dir/shot.png" ]
chk png "$dir/shot.png" 1200 2000
check "markup in a record is escaped in the page" \
    eq "$(grep -c 'gw&lt;b&gt;&quot;x&quot;' "$dir/all.html")" 1
check "the period is named in Vietnamese" \
    has "$dir/khanhhoa-2025.html" "từ ngày 01/01/2025 đến hết ngày 31/12/2025"
$KYSO report $S --org khanhhoa.gov.vn --year 2025 --html - >"$dir/stdout.html" 2>/dev/null
check "--html - writes the page to standard output" \
    eq "$(cksum <"$dir/stdout.html" | cut -d' ' -f2)" \
    "$(cksum <"$dir/khanhhoa-2025.html" | cut -d' ' -f2)"

# --- bad input, exit statuses ---------------------------------------------------
$KYSO report $S --since 2025-13 >/dev/null 2>"$dir/e"; rc=$?
check "--since 2025-13: exit 2, 'not a date'" eq "$rc $(grep -c 'not a date' "$dir/e")" "2 1"
$KYSO report $S --until 2025-02-30 >/dev/null 2>"$dir/e"; rc=$?
check "--until 2025-02-30 (no such day): exit 2" eq "$rc" 2
$KYSO report $S --year 2025 --since 2025-03 >/dev/null 2>"$dir/e"; rc=$?
check "--year with --since: exit 2, said" eq "$rc $(grep -c 'year' "$dir/e")" "2 1"
$KYSO report $S --since 2025-06 --until 2025-05 >/dev/null 2>"$dir/e"; rc=$?
check "--since after --until: exit 2" eq "$rc" 2
$KYSO report $S --org 'not a domain' >/dev/null 2>"$dir/e"; rc=$?
check "--org that is not a domain: exit 2, said" \
    eq "$rc $(grep -c 'not a domain' "$dir/e")" "2 1"
$KYSO report $S --csv --html "$dir/x.html" >/dev/null 2>"$dir/e"; rc=$?
check "--csv with --html: exit 2" eq "$rc $([ -e "$dir/x.html" ] && echo made)" "2 "
$KYSO report $S --since 2999-01-01 >/dev/null 2>"$dir/e"; rc=$?
check "a period in the future: exit 1, said" eq "$rc $(grep -c 'future' "$dir/e")" "1 1"
$KYSO report $S --org nowhere.example >"$dir/o" 2>"$dir/e"; rc=$?
check "an organisation with no record: exit 1, said, the report still printed" \
    eq "$rc $(grep -c 'no decision record' "$dir/e") $(grep -c '^Records: *0 ' "$dir/o")" \
    "1 1 1"
$KYSO report --store "file:$dir/no-such-dir" >/dev/null 2>&1; rc=$?
check "a missing store: exit 2" eq "$rc" 2
$KYSO report $S --html "$dir/no-such-dir/r.html" >/dev/null 2>"$dir/e"; rc=$?
check "an HTML file that cannot be written: exit 2, said" \
    eq "$rc $(grep -c 'writing' "$dir/e")" "2 1"
printf 'Socket local:%s/sock\nTrustAnchors %s/anchors.pem\nStore file:%s/store\n' \
    "$dir" "$dir" "$dir" >"$dir/kyso-milter.conf"
$KYSO report -c "$dir/kyso-milter.conf" --org khanhhoa.gov.vn --year 2025 --csv \
    >"$dir/c.csv" 2>/dev/null
check "-c CONFIG: the store comes from its Store key" \
    eq "$(sed '/^report,generated,/d' "$dir/c.csv" | cksum)" \
    "$(sed '/^report,generated,/d' "$dir/khanhhoa-2025.csv" | cksum)"
check "the store was only read" eq "$(store_state)" "$sums_before"

echo "1..$n"
