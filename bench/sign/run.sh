#!/bin/bash
# bench/sign/run.sh [FIXTURES_DIR] - how fast the organisation signature is
# applied (issue item 10): 1 MB and 10 MB PDFs signed per second by
# `kyso sign` (many files in one process) and through kyso-milter (mail
# submitted with SMTP AUTH to a private Postfix), side by side with the raw
# signing rate of the same SoftHSM2 key, the floor, and `pdfsig -sign`.
#
# Everything runs from a mktemp directory removed at exit: a SoftHSM2 token
# made with tests/sign/mktoken.sh holding the fixtures' pki/org.key and
# org.pem (token "Kyso Org", PIN 123456, key id 01), the KeyTable and
# SignerTable, the inputs (hard links to pdf/big-1m.pdf and big-10m.pdf,
# unsigned), the helper programs built with gcc. Measured, for each SIZE:
#   token      bench/sign/tokenrate.c: libp11 logs in once and signs
#              TOKEN_N times in one process with EVP_DigestSign (SHA-256,
#              RSA PKCS#1 v1.5, 120 bytes: the signed attributes), exactly
#              as kyso's signer thread does; ms per signature
#   p11tool    `pkcs11-tool --sign --mechanism SHA256-RSA-PKCS`, one process
#              (module load, login) per signature, P_TOOL times
#   floor      bench/sign/floor.c: SHA-256 of the document plus MIME base64
#              of the signed result (OpenSSL), in memory
#   kyso       `kyso sign -c CONF --key org -o DIR` over N_SIZE files in one
#              process (wall time / N: start-up and login spread over N)
#   kyso/1     the same with one file (start-up, config, login, one
#              signature): the fixed cost of a process
#   pdfsig     `pdfsig -nssdir sql:NSS -nick org -sign Sig1` (the field the
#              fixture has), one process per file (it takes one), P_SIZE
#              files, key in NSS's software store (the fixtures' nss/)
#   pdfsig-hsm the same with the SoftHSM2 token added to a fresh NSS db
#              (modutil), nick "Kyso Org:org": the same key as kyso. NSS
#              crashes in NSS_Shutdown -> SoftHSM's C_CloseAllSessions
#              after writing the file (exit 139); the output is checked
#              and the exit status 139 accepted.
# The target (issue): kyso's time per signed document at most token + 2 x
# floor, and less than pdfsig's.
#
# Then, as root with Postfix installed (MILTER=1, the default when root),
# the mail path as bench/mailpath does it: a private Postfix
# (tests/e2e/postfix.sh) whose submission port (SMTP AUTH, user vanthu)
# has kyso-milter as smtpd_milters and relays by smtp(8) to `smtp-sink -c`;
# bench/mailpath/send.py (--user) submits M_SIZE messages (the PDF attached,
# base64) at each concurrency of CONC, one connection and AUTH PLAIN per
# message; bench/mailpath/round.py times from the first connection until
# the sink has counted every message. Variants:
#   none       no milter
#   null       bench/mailpath/nullmilter.c: reads the message, does nothing
#   null-replace  the same, giving the body back unchanged (smfi_replacebody):
#              null-replace - null is what Postfix takes for any new body,
#              the floor under the milter's signing cost
#   kyso       kyso-milter, Mode monitor, no SignerTable: checks the
#              (unsigned) PDF and lets it through
#   kyso-sign  the same plus SignerTable (vanthu), KeyTable (the token),
#              SignPolicy any: signs the PDF, then checks the signed mail
# Both kyso variants have VerifyCacheSize 0. kyso-sign - kyso at the same
# concurrency is what signing costs a message. Every round is checked:
# before it one message goes to a second, keeping sink and its PDF must be
# unchanged (none, kyso) or carry a valid organisation signature (kyso
# verify); after it the audit stream must hold one "signed" record per
# message (kyso-sign) and the decision records one accept per message.
#
# Each figure is the median of RUNS runs, interleaved. Before each timed
# step the script waits (at most QUIET_WAIT s) for the machine to be less
# than QUIET_MAX percent busy (a shared machine).
#
# Environment: RUNS (3), SIZES ("1m 10m"), N_1M (50), N_10M (10), P_1M (20),
# P_10M (5), P_TOOL (20), TOKEN_N (500), M_1M (40), M_10M (8), CONC ("1 4"),
# VARIANTS ("none null null-replace kyso kyso-sign"),
# MILTER (1 when root, else 0), KYSO, KYSO_MILTER (default build/milter/...
# or milter/...; copied first), KEEP=1 keeps the work directory,
# QUIET_MAX (20), QUIET_WAIT (60). Needs gcc, pkg-config, libp11-dev,
# libssl-dev, softhsm2, opensc (pkcs11-tool), poppler-utils (pdfsig),
# libnss3-tools (modutil, certutil), python3; for the mail path also root,
# postfix, postfix-sqlite, sasl2-bin, jq.
# Results go to stdout and bench/out/sign/results.md. It never touches the
# system Postfix, signals only processes it started (by pid), and writes
# nothing else outside its work directory.
set -u -o pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$TOP/bench/sign
OUT=$TOP/bench/out/sign
RUNS=${RUNS:-3}
SIZES=${SIZES:-1m 10m}
N_1M=${N_1M:-50} N_10M=${N_10M:-10}
P_1M=${P_1M:-20} P_10M=${P_10M:-5} P_TOOL=${P_TOOL:-20}
TOKEN_N=${TOKEN_N:-500}
M_1M=${M_1M:-40} M_10M=${M_10M:-8}
CONC=${CONC:-1 4}
VARIANTS=${VARIANTS:-none null null-replace kyso kyso-sign}
QUIET_MAX=${QUIET_MAX:-20}
QUIET_WAIT=${QUIET_WAIT:-60}
if [ "$(id -u)" = 0 ]; then MILTER=${MILTER:-1}; else MILTER=${MILTER:-0}; fi
MODULE=/usr/lib/softhsm/libsofthsm2.so
PIN=123456
FROM=vanthu@sotttt.demo.gov.vn
TO=tiepnhan@ubnd.demo.gov.vn
CHECK_TO=check@ubnd.demo.gov.vn
ORG="Sở Thông tin và Truyền thông Tỉnh Demo"

say() { echo "bench/sign: $*" >&2; }
die() { say "$*"; exit 2; }

W=
MPID=
SINK_PID=
DUMP_PID=

# cleanup - stop what we started (milter, sinks, Postfix) and remove W
# unless KEEP=1. Never fails.
cleanup() {
    stop_milter
    local p
    for p in $SINK_PID $DUMP_PID; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    [ -n "$W" ] && [ -d "$W/pf/etc" ] && pf_stop "$W/pf" >/dev/null 2>&1
    if [ "${KEEP:-0}" = 1 ]; then say "kept $W"; else [ -n "$W" ] && rm -rf "$W"; fi
    return 0
}

# machine - one line describing this machine.
machine() {
    local cpu mem
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
    mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    echo "$(nproc) CPUs, ${cpu:-unknown CPU}$(grep -qw sha_ni /proc/cpuinfo && echo ' (SHA-NI)'), $mem RAM, $(uname -sr)"
}

# now - seconds since the epoch, nanosecond resolution.
now() { date +%s.%N; }

# elapsed T0 - seconds since T0.
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.6f\n", b - a }'; }

. "$TOP/bench/common.sh"        # busy_pct, wait_for, start_sinks

# quiet_gate - wait until the machine is less than QUIET_MAX percent busy
# over 0.5 s, at most QUIET_WAIT s; says so when it stays busy.
quiet_gate() {
    local end=$((SECONDS + QUIET_WAIT)) b
    while :; do
        b=$(busy_pct 0.5)
        [ "$b" -lt "$QUIET_MAX" ] && return 0
        [ "$SECONDS" -lt "$end" ] || { say "machine still ${b}% busy: measuring anyway"; BUSY=1; return 0; }
        sleep 1
    done
}

# record KEY VALUE - one measurement (seconds per unit) into the TSV.
record() { printf '%s\t%s\t%s\n' "$RUN" "$1" "$2" >>"$TSV"; }

# find_tools - check the tools; set FX, KYSO_BIN, MILTER_BIN.
find_tools() {
    local t
    for t in gcc pkg-config softhsm2-util pkcs11-tool pdfsig modutil certutil python3 openssl; do
        command -v $t >/dev/null || die "no $t (see the head of bench/sign/run.sh for packages)"
    done
    pkg-config --exists libp11 libcrypto || die "no libp11/libcrypto headers (apt-get install libp11-dev libssl-dev)"
    [ -r "$MODULE" ] || die "no $MODULE (apt-get install softhsm2)"
    for t in "$FX" "$TOP/build/tests/out/fixtures" "$TOP/tests/out/fixtures" "$TOP/bench/out/fixtures"; do
        [ -n "$t" ] && [ -f "$t/pdf/big-10m.pdf" ] && [ -f "$t/pki/org.key" ] &&
            { FX=$(cd "$t" && pwd); break; }
    done
    [ -n "$FX" ] || die "no fixtures with pdf/big-10m.pdf: give FIXTURES_DIR (tests/fixtures/mkfixtures.sh makes them)"
    KYSO_BIN='' MILTER_BIN=''
    for t in "${KYSO:-}" "$TOP/build/milter/kyso" "$TOP/milter/kyso"; do
        [ -n "$t" ] && [ -x "$t" ] && { KYSO_BIN=$t; break; }
    done
    for t in "${KYSO_MILTER:-}" "$TOP/build/milter/kyso-milter" "$TOP/milter/kyso-milter"; do
        [ -n "$t" ] && [ -x "$t" ] && { MILTER_BIN=$t; break; }
    done
    [ -n "$KYSO_BIN" ] || die "no kyso binary: build it or set KYSO"
    if [ "$MILTER" = 1 ]; then
        [ "$(id -u)" = 0 ] || die "the mail path needs root (MILTER=0 to skip it)"
        [ -n "$MILTER_BIN" ] || die "no kyso-milter binary: build it or set KYSO_MILTER"
        for t in /usr/sbin/postfix /usr/sbin/smtp-sink saslpasswd2 jq; do
            command -v $t >/dev/null || die "no $t (apt-get install postfix postfix-sqlite sasl2-bin jq)"
        done
    fi
}

# setup - the work directory: binaries, helpers, token, tables, configs,
# inputs. Dies on failure.
setup() {
    W=$(mktemp -d /tmp/kyso-bench-sign.XXXXXX) || die "mktemp failed"
    chmod 0755 "$W"
    mkdir -p "$W/bin" "$W/store" "$W/out" "$W/pdfsig" || die "cannot fill $W"
    BUILT="kyso $KYSO_BIN of $(date -u -r "$KYSO_BIN" '+%Y-%m-%d %H:%M') UTC"
    cp "$KYSO_BIN" "$W/bin/kyso" || die "cannot copy $KYSO_BIN"
    [ "$MILTER" = 1 ] && { cp "$MILTER_BIN" "$W/bin/kyso-milter" || die "cannot copy $MILTER_BIN"; }
    local p11 ssl
    read -r -a p11 <<<"$(pkg-config --cflags --libs libp11 libcrypto)"
    read -r -a ssl <<<"$(pkg-config --cflags --libs libcrypto)"
    gcc -O2 -o "$W/bin/tokenrate" "$HERE/tokenrate.c" "${p11[@]}" &&
        gcc -O2 -o "$W/bin/floor" "$HERE/floor.c" "${ssl[@]}" || die "cannot build the helpers"
    if [ "$MILTER" = 1 ]; then
        gcc -O2 -o "$W/bin/nullmilter" "$TOP/bench/mailpath/nullmilter.c" -lmilter -pthread ||
            die "cannot build bench/mailpath/nullmilter.c (libmilter-dev)"
    fi
    bash "$TOP/tests/sign/mktoken.sh" "$W/hsm" "$FX/pki/org.key" "$FX/pki/org.pem" \
        >"$W/mktoken.log" 2>&1 || die "mktoken.sh failed: $(cat "$W/mktoken.log")"
    export SOFTHSM2_CONF=$W/hsm/softhsm2.conf
    (umask 077; echo "$PIN" >"$W/pin"; echo "$PIN" >"$W/nsspw")
    echo "org key=pkcs11:token=Kyso%20Org;object=org;id=%01?module-path=$MODULE" \
        "cert=$FX/pki/org.pem chain=$FX/pki/sub.pem name=\"$ORG\" pin=file:$W/pin" >"$W/keys.table"
    echo "vanthu $FROM org" >"$W/signers.table"
    write_conf kyso 0
    write_conf kyso-sign 1
    # NSS: the fixtures' db (key in the software store, nick org), and a
    # fresh db with the SoftHSM2 module (nick "Kyso Org:org")
    cp -r "$FX/nss" "$W/nss-soft" || die "cannot copy $FX/nss"
    mkdir -p "$W/nss-hsm" && certutil -N -d "sql:$W/nss-hsm" --empty-password &&
        echo | modutil -force -dbdir "sql:$W/nss-hsm" -add softhsm -libfile "$MODULE" >/dev/null ||
        die "cannot add SoftHSM2 to an NSS db"
    head -c 32 /dev/urandom >"$W/data32"
    local s n i
    for s in $SIZES; do
        n=$(count N "$s")
        mkdir -p "$W/in-$s"
        for i in $(seq -w 1 "$n"); do
            ln "$FX/pdf/big-$s.pdf" "$W/in-$s/doc-$i.pdf" 2>/dev/null ||
                cp "$FX/pdf/big-$s.pdf" "$W/in-$s/doc-$i.pdf" || die "cannot make inputs"
        done
        [ "$(count P "$s")" -le "$n" ] || die "P_$s must not exceed N_$s"
    done
}

# count KIND SIZE - the value of KIND_SIZE (N_1M, P_10M, M_1M...).
count() { local v="${1}_${2^^}"; echo "${!v:?unknown size $2}"; }

# write_conf NAME SIGN - W/NAME.conf: the fixture PKI, every message of
# the benchmark watched (EnforceDomains) in monitor mode, no cache, file
# store; with SIGN the SignerTable, KeyTable and SignPolicy any.
write_conf() {
    {
        echo "Socket local:$W/kyso.sock"
        echo "SocketMode 0666"
        echo "Syslog no"
        echo "AuthservID mx.kyso.test"
        echo "NodeName bench"
        echo "TrustAnchors $FX/pki/anchors"
        echo "Intermediates $FX/pki/intermediates"
        echo "CRLs $FX/pki/crl"
        echo "EnforceDomains *.demo.gov.vn"
        echo "Mode monitor"
        echo "Notify no"
        echo "Store file:$W/store"
        echo "VerifyCacheSize 0"
        if [ "$2" = 1 ]; then
            echo "SignerTable $W/signers.table"
            echo "KeyTable $W/keys.table"
            echo "SignPolicy any"
        fi
    } >"$W/$1.conf"
}

# org_signed PDF - succeed when kyso verify finds a valid organisation
# signature (the token's certificate) in PDF.
org_signed() {
    "$W/bin/kyso" verify --trust-anchors "$FX/pki/root.pem" --intermediates "$FX/pki/sub.pem" \
        --allow-missing-crl "$1" 2>/dev/null | grep -q 'valid (ok), signer .*\[organisation\]'
}

# pdfsig_valid PDF - succeed when pdfsig (fixtures' NSS db trusting the
# test root) finds a valid signature in PDF.
pdfsig_valid() {
    pdfsig -nssdir "sql:$FX/nss" "$1" 2>/dev/null | grep -q 'Signature is Valid'
}

# pdfsig_one MODE IN OUT - sign IN into OUT with pdfsig, soft key or token.
# Fails when pdfsig does (exit 139 accepted for the token: the crash at
# NSS_Shutdown comes after the file is written; the output is checked).
pdfsig_one() {
    local rc
    if [ "$1" = soft ]; then
        pdfsig -nssdir "sql:$W/nss-soft" -nick org -sign Sig1 -digest SHA256 "$2" "$3" \
            >/dev/null 2>&1
    else
        # braces: bash's "Segmentation fault" line goes to /dev/null too
        { pdfsig -nssdir "sql:$W/nss-hsm" -nss-pwd "$PIN" -nick "Kyso Org:org" -sign Sig1 \
            -digest SHA256 "$2" "$3" >/dev/null </dev/null; } 2>/dev/null
        rc=$?
        [ $rc = 0 ] || [ $rc = 139 ]
    fi
}

# check_tools - every signer once on a 1 MB file, output checked, before
# anything is timed: a tool failing early must not pass for a fast one.
check_tools() {
    local in=$FX/pdf/big-1m.pdf o=$W/check
    mkdir -p "$o"
    "$W/bin/kyso" sign -c "$W/kyso-sign.conf" --key org -o "$o/kyso.pdf" "$in" 2>"$W/check.err" &&
        org_signed "$o/kyso.pdf" && pdfsig_valid "$o/kyso.pdf" ||
        die "kyso sign: no valid organisation signature: $(cat "$W/check.err")"
    pdfsig_one soft "$in" "$o/soft.pdf" && pdfsig_valid "$o/soft.pdf" || die "pdfsig (soft key) failed"
    pdfsig_one hsm "$in" "$o/hsm.pdf" && pdfsig_valid "$o/hsm.pdf" || die "pdfsig (SoftHSM2) failed"
    pkcs11-tool --module "$MODULE" --token-label "Kyso Org" --login --pin "$PIN" --sign \
        --mechanism SHA256-RSA-PKCS --id 01 -i "$W/data32" -o "$o/sig" >/dev/null 2>&1 &&
        [ "$(stat -c %s "$o/sig")" = 256 ] || die "pkcs11-tool --sign failed"
    "$W/bin/tokenrate" "$MODULE" "Kyso Org" "$PIN" 01 5 >/dev/null || die "tokenrate failed"
    say "every signer checked: kyso sign, pdfsig (soft key, SoftHSM2), pkcs11-tool, tokenrate"
}

# bench_token - the raw rate of the token key (tokenrate), and pkcs11-tool
# one process per signature.
bench_token() {
    local r t0 i
    quiet_gate
    r=$("$W/bin/tokenrate" "$MODULE" "Kyso Org" "$PIN" 01 "$TOKEN_N") || die "tokenrate failed"
    r=${r#*sign_ms=}
    record token "$(awk -v m="$r" 'BEGIN { print m / 1000 }')"
    quiet_gate
    t0=$(now)
    for i in $(seq 1 "$P_TOOL"); do
        pkcs11-tool --module "$MODULE" --token-label "Kyso Org" --login --pin "$PIN" --sign \
            --mechanism SHA256-RSA-PKCS --id 01 -i "$W/data32" -o "$W/out/sig" >/dev/null 2>&1 ||
            die "pkcs11-tool failed"
    done
    record p11tool "$(awk -v t="$(elapsed "$t0")" -v n="$P_TOOL" 'BEGIN { print t / n }')"
}

# bench_size SIZE - kyso sign (N files, 1 file), the floor, pdfsig (soft,
# token) for one size. kyso sign writes into a folder new to each run, and
# nothing is deleted before the timed steps: creating files right after
# deleting many makes ext4 look further for an inode not recently freed
# (perf: a tenth of kyso sign's 1 MB time in find_inode_bit), a cost of
# the benchmark's own clean-up, not of signing.
bench_size() {
    local s=$1 n p t0 t i f r files o="$W/out-$s-$RUN"
    n=$(count N "$s") p=$(count P "$s")
    files=("$W/in-$s"/doc-*.pdf)
    mkdir -p "$o/many" "$o/one" || die "cannot make $o"
    quiet_gate
    t0=$(now)
    "$W/bin/kyso" sign -c "$W/kyso-sign.conf" --key org -o "$o/many" "${files[@]}" \
        2>"$W/sign.err" || die "kyso sign $s failed: $(head -3 "$W/sign.err")"
    t=$(elapsed "$t0")
    [ "$(ls "$o/many" | wc -l)" = "$n" ] &&
        org_signed "$o/many/doc-$(printf '%0*d' ${#n} "$n").pdf" ||
        die "kyso sign $s: outputs missing or not signed"
    record "kyso-$s" "$(awk -v t="$t" -v n="$n" 'BEGIN { print t / n }')"
    cp "$o/many/$(basename "${files[0]}")" "$W/signed-$s.pdf"
    quiet_gate
    t0=$(now)
    "$W/bin/kyso" sign -c "$W/kyso-sign.conf" --key org -o "$o/one/one.pdf" "${files[0]}" \
        2>"$W/sign.err" || die "kyso sign (1 file) $s failed"
    record "kyso1-$s" "$(elapsed "$t0")"
    # the floor: SHA-256 of the document, base64 of the signed result
    r=$("$W/bin/floor" "$([ "$s" = 1m ] && echo 40 || echo 8)" "$FX/pdf/big-$s.pdf" \
        "$W/signed-$s.pdf") || die "floor failed"
    record "sha256-$s" "$(awk -v x="${r#sha256_ms=}" 'BEGIN { split(x, a, " "); print a[1] / 1000 }')"
    r=${r#*base64_ms=}
    record "base64-$s" "$(awk -v x="$r" 'BEGIN { split(x, a, " "); print a[1] / 1000 }')"
    for f in soft hsm; do
        rm -rf "$W/pdfsig" && mkdir -p "$W/pdfsig"
        quiet_gate
        t0=$(now)
        for i in $(seq 0 $((p - 1))); do
            pdfsig_one "$f" "${files[$i]}" "$W/pdfsig/$i.pdf" || die "pdfsig ($f) $s failed"
        done
        t=$(elapsed "$t0")
        pdfsig_valid "$W/pdfsig/$((p - 1)).pdf" || die "pdfsig ($f) $s: output not valid"
        record "pdfsig-$f-$s" "$(awk -v t="$t" -v n="$p" 'BEGIN { print t / n }')"
    done
}

# ---------------------------------------------------------------- mail path

# start_instance - sinks, then a private Postfix whose mail goes by
# smtp(8) to the counting sink (CHECK_TO to the keeping one), with the SMTP
# AUTH user vanthu (password pw). Sets SUBMIT.
start_instance() {
    local ports pf=$W/pf
    ports=$(pf__free_ports 2) || die "no free ports"
    read -r SINK_PORT DUMP_PORT <<<"${ports//$'\n'/ }"
    start_sinks
    pf_start "$pf" >"$W/pf-start.log" 2>&1 || die "Postfix did not start: $(cat "$W/pf-start.log")"
    pf_add_user "$pf" vanthu pw && pf_enable_smtp "$pf" >>"$W/pf-start.log" 2>&1 ||
        die "cannot add the user or smtp(8)"
    pf_postconf "$pf" default_transport=smtp "relayhost=[127.0.0.1]:$SINK_PORT" \
        virtual_mailbox_domains= virtual_mailbox_maps= \
        "transport_maps=inline:{ $CHECK_TO=smtp:[127.0.0.1]:$DUMP_PORT }" \
        smtp_connection_cache_on_demand=no smtpd_milters= non_smtpd_milters= \
        milter_default_action=tempfail >>"$W/pf-start.log" 2>&1 ||
        die "pf_postconf failed: $(cat "$W/pf-start.log")"
    SUBMIT=$(pf_submit_port "$pf")
}

# start_milter VARIANT - kyso-milter with W/VARIANT.conf, or nullmilter
# (null: reads the message; null-replace: gives the body back unchanged
# with smfi_replacebody), on W/kyso.sock; MPID. Nothing for none.
start_milter() {
    MPID=
    rm -f "$W/kyso.sock"
    case $1 in
        none) return 0 ;;
        null) "$W/bin/nullmilter" "local:$W/kyso.sock" 2>>"$W/$1.log" & ;;
        null-replace) "$W/bin/nullmilter" -r "local:$W/kyso.sock" 2>>"$W/$1.log" & ;;
        *) "$W/bin/kyso-milter" -f -c "$W/$1.conf" 2>>"$W/$1.log" & ;;
    esac
    MPID=$!
    wait_for 10 test -S "$W/kyso.sock" || die "$1 did not start: $(tail -5 "$W/$1.log")"
}

# stop_milter - SIGTERM the milter started last; SIGKILL after 10 s.
stop_milter() {
    [ -n "$MPID" ] || return 0
    kill -TERM "$MPID" 2>/dev/null
    wait_for 10 eval '! pf__alive "$MPID"' || kill -KILL "$MPID" 2>/dev/null
    wait "$MPID" 2>/dev/null
    MPID=
}

# use_variant VARIANT - smtpd_milters for VARIANT, reload, and wait until
# every smtpd started before is gone.
use_variant() {
    local old p spec=
    [ "$1" = none ] || spec="unix:$W/kyso.sock"
    old=$(for p in $(pf_pids "$W/pf"); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = smtpd ] && echo "$p"; done)
    pf_postconf "$W/pf" "smtpd_milters=$spec" >>"$W/pf-start.log" 2>&1 || return 1
    for p in $old; do wait_for 10 eval '! pf__alive "$p"' || return 1; done
}

# milter_cpu_ms - the milter's user+system CPU time in ms (0 for none).
milter_cpu_ms() {
    [ -n "$MPID" ] || { echo 0; return; }
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000 / hz }' "/proc/$MPID/stat"
}

# send N CONC TO SIZE - submit N messages of SIZE at concurrency CONC.
send() {
    python3 "$TOP/bench/mailpath/send.py" --port "$SUBMIT" --user vanthu --password pw --from "$FROM" \
        --to "$3" --count "$1" --concurrency "$2" "$W/msg/$4.eml"
}

# check_delivery VARIANT SIZE - one message to the keeping sink; its PDF
# must be unchanged (none, null, null-replace, kyso) or carry a valid organisation signature
# (kyso-sign). Dies otherwise.
check_delivery() {
    local v=$1 s=$2 f
    rm -f "$W"/dump/*
    send 1 1 "$CHECK_TO" "$s" || die "$v $s: the check message was refused"
    wait_for 30 eval '[ -n "$(ls "$W/dump")" ]' && pf_queue_empty_wait "$W/pf" 30 ||
        die "$v $s: the check message did not arrive"
    f=$(ls "$W"/dump/* | head -1)
    python3 - "$f" "$W/got.pdf" <<'PY' || die "$v $s: no PDF in the delivered message"
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
for p in m.walk():
    if p.get_content_type() == "application/pdf":
        open(sys.argv[2], "wb").write(p.get_content())
        sys.exit(0)
sys.exit(1)
PY
    if [ "$v" = kyso-sign ]; then
        org_signed "$W/got.pdf" && pdfsig_valid "$W/got.pdf" ||
            die "$v $s: the delivered PDF has no valid organisation signature"
    else
        cmp -s "$W/got.pdf" "$FX/pdf/big-$s.pdf" || die "$v $s: the delivered PDF was changed"
    fi
}

# count_lines FILE PATTERN - lines of FILE with PATTERN (0 when no file).
count_lines() { [ -f "$1" ] && grep -c -- "$2" "$1" || echo 0; }

# round VARIANT SIZE CONC - the check message, CONC warm-up messages, then
# the timed round; records "mail-VARIANT-SIZE-cCONC" (seconds per message)
# and the milter's CPU per message. Dies on any failure.
round() {
    local v=$1 s=$2 c=$3 n out sig0 dec0 cpu0 cpu1
    n=$(count M "$s")
    check_delivery "$v" "$s"
    send "$c" "$c" "$TO" "$s" || die "$v $s c=$c: warm-up failed"
    pf_queue_empty_wait "$W/pf" 60 || die "$v $s: warm-up mail left in the queue"
    quiet_gate
    sig0=$(count_lines "$W/store/audit.jsonl" '"event":"signed"')
    dec0=$(count_lines "$W/store/decisions.jsonl" .)
    cpu0=$(milter_cpu_ms)
    out=$(python3 "$TOP/bench/mailpath/round.py" --sink-log "$W/sink.out" --count "$n" \
        --timeout 300 -- python3 "$TOP/bench/mailpath/send.py" --port "$SUBMIT" --user vanthu \
        --password pw --from "$FROM" --to "$TO" --count "$n" --concurrency "$c" \
        "$W/msg/$s.eml") || die "$v $s c=$c: the round failed"
    cpu1=$(milter_cpu_ms)
    pf_queue_empty_wait "$W/pf" 60 || die "$v $s c=$c: mail left in the queue"
    if [ "${v#kyso}" != "$v" ]; then
        wait_for 10 eval '[ "$(count_lines "$W/store/decisions.jsonl" .)" -ge $((dec0 + n)) ]' ||
            die "$v $s c=$c: decision records missing"
        tail -n +"$((dec0 + 1))" "$W/store/decisions.jsonl" | jq -s -e --argjson n "$n" \
            'length == $n and all(.[]; .action == "accept")' >/dev/null ||
            die "$v $s c=$c: not every message accepted"
    fi
    if [ "$v" = kyso-sign ]; then
        [ "$(count_lines "$W/store/audit.jsonl" '"event":"signed"')" = $((sig0 + n)) ] ||
            die "$v $s c=$c: $(($(count_lines "$W/store/audit.jsonl" '"event":"signed"') - sig0)) signed records for $n messages"
    fi
    out=${out#wall=}
    say "run $RUN $v $s c=$c: $n messages in ${out%% *} s"
    record "mail-$v-$s-c$c" "$(awk -v t="${out%% *}" -v n="$n" 'BEGIN { print t / n }')"
    record "cpu-$v-$s-c$c" "$(awk -v a="$cpu0" -v b="$cpu1" -v n="$n" 'BEGIN { print (b - a) / n / 1000 }')"
}

# bench_mail - every variant, size and concurrency, RUNS times interleaved.
bench_mail() {
    local v s c
    . "$TOP/tests/e2e/postfix.sh"
    mkdir -p "$W/msg"
    for s in $SIZES; do
        python3 "$TOP/bench/mailpath/mkmsg.py" pdf "$W/msg/$s.eml" "$FX/pdf/big-$s.pdf" ||
            die "mkmsg.py failed"
    done
    start_instance
    for RUN in $(seq 1 "$RUNS"); do
        for v in $VARIANTS; do
            start_milter "$v"
            use_variant "$v" || die "cannot switch Postfix to $v"
            for s in $SIZES; do
                for c in $CONC; do round "$v" "$s" "$c"; done
            done
            stop_milter
        done
    done
}

# report - the markdown tables from the TSV (medians over the runs).
report() {
    python3 - "$TSV" "$SIZES" "$CONC" "$MILTER" "$VARIANTS" <<'PY'
import statistics, sys
from collections import defaultdict
tsv, sizes, conc, milter = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4] == "1"
variants = sys.argv[5].split()
BASE = {"kyso-sign": "kyso", "null-replace": "null"}   # what each costs more than
v = defaultdict(list)
for line in open(tsv):
    run, key, val = line.rstrip("\n").split("\t")
    v[key].append(float(val))
med = {k: statistics.median(x) * 1000 for k, x in v.items()}     # ms
def f(x): return "%.2f" % x if x < 100 else "%.1f" % x
tok = med["token"]
print("| size | token ms/sig | floor ms (SHA-256 + base64) | target ms | kyso sign ms/doc "
      "| docs/s | kyso sign, 1 file/process ms | pdfsig ms/doc (NSS soft key) "
      "| pdfsig ms/doc (SoftHSM2) | kyso / target | pdfsig (SoftHSM2) / kyso |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
verdict = []
for s in sizes:
    fl = med["sha256-" + s] + med["base64-" + s]
    target = tok + 2 * fl
    k = med["kyso-" + s]
    ph = med["pdfsig-hsm-" + s]
    print("| %s | %s | %s (%s + %s) | %s | **%s** | %.0f | %s | %s | %s | %.2f | %.2f |" % (
        s, f(tok), f(fl), f(med["sha256-" + s]), f(med["base64-" + s]), f(target), f(k),
        1000 / k, f(med["kyso1-" + s]), f(med["pdfsig-soft-" + s]), f(ph), k / target, ph / k))
    verdict.append("%s: kyso sign %s ms/doc against a target of %s ms: %s; %s than pdfsig "
                   "(%.1fx)" % (s, f(k), f(target), "met" if k <= target else "NOT met",
                                "faster" if k < min(ph, med["pdfsig-soft-" + s]) else "NOT faster",
                                min(ph, med["pdfsig-soft-" + s]) / k))
print()
print("pkcs11-tool, one process per signature: %s ms/sig (module load and login each time)."
      % f(med["p11tool"]))
print()
for x in verdict:
    print("- " + x)
if not milter:
    sys.exit(0)
print()
print("| mail | conc | variant | msg/s | ms/msg | milter CPU ms/msg "
      "| adds ms/msg (kyso-sign over kyso, null-replace over null) |")
print("|---|---|---|---|---|---|---|")
for s in sizes:
    for c in conc:
        for var in variants:
            k = "mail-%s-%s-c%s" % (var, s, c)
            b = "mail-%s-%s-c%s" % (BASE.get(var), s, c)
            cost = med[k] - med[b] if b in med else None
            cpu = med["cpu-%s-%s-c%s" % (var, s, c)]
            print("| %s | %s | %s | %.1f | %s | %s | %s |" % (
                s, c, var, 1000 / med[k], f(med[k]), "-" if var == "none" else f(cpu),
                f(cost) if cost is not None else "-"))
print()
for s in sizes:
    fl = med["sha256-" + s] + med["base64-" + s]
    target = tok + 2 * fl
    if "mail-null-replace-%s-c1" % s in med and "mail-null-%s-c1" % s in med:
        print("- milter, %s, c=1: giving the body back unchanged (null-replace) adds %s ms per "
              "message over only reading it (null): what Postfix takes for any new body" % (
                  s, f(med["mail-null-replace-%s-c1" % s] - med["mail-null-%s-c1" % s])))
    if "mail-kyso-sign-%s-c1" % s not in med or "mail-kyso-%s-c1" % s not in med:
        continue
    cost = med["mail-kyso-sign-%s-c1" % s] - med["mail-kyso-%s-c1" % s]
    cpu = med["cpu-kyso-sign-%s-c1" % s] - med["cpu-kyso-%s-c1" % s]
    print("- milter, %s, c=1: signing adds %s ms per message (%s ms of milter CPU) against "
          "a target of %s ms: %s" % (s, f(cost), f(cpu), f(target),
                                      "met" if cost <= target else "NOT met"))
PY
}

FX=${1:-}
find_tools
trap cleanup EXIT
trap 'exit 130' INT TERM
setup
mkdir -p "$OUT"
TSV=$W/results.tsv
: >"$TSV"
BUSY=0
say "work directory $W; kyso $KYSO_BIN; fixtures $FX"
check_tools
t_start=$SECONDS
for RUN in $(seq 1 "$RUNS"); do
    bench_token
    for s in $SIZES; do bench_size "$s"; done
    say "run $RUN: kyso sign, pdfsig, token, floor done"
done
[ "$MILTER" = 1 ] && bench_mail
say "measured in $((SECONDS - t_start)) s"
{
    echo "Machine: $(machine); $(pdfsig -v 2>&1 | head -1), SoftHSM $(softhsm2-util --version)," \
        "libp11 $(pkg-config --modversion libp11), $(openssl version | cut -d' ' -f1-2)."
    echo "$(date -u '+%Y-%m-%d %H:%M') UTC; $BUILT, tree $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$TOP" \
        diff --quiet HEAD -- lib milter 2>/dev/null || echo ' + uncommitted changes in lib/ milter/'); RUNS=$RUNS," \
        "kyso sign over N_1M=$N_1M / N_10M=$N_10M files, pdfsig P_1M=$P_1M / P_10M=$P_10M," \
        "mail M_1M=$M_1M / M_10M=$M_10M per round.$([ "$BUSY" = 1 ] && echo ' Some steps were measured on a busy machine.')"
    echo
    report
} | tee "$OUT/results.md"
[ "${KEEP:-0}" = 1 ] && cp "$TSV" "$OUT/results.tsv"
exit 0
