# shellcheck shell=bash
# bench/mailpath/lib.sh - the steps of bench/mailpath/run.sh: messages, the
# DKIM key, the private Postfix relaying to smtp-sink, the milters, one
# measured cell, the report. Sourced by run.sh after tests/e2e/postfix.sh;
# it uses run.sh's variables (W, OUT, FX, TOP, HERE, FROM, TO, CHECK_TO,
# RUNS, SIZES, N_5K, N_1M, N_10M, DISTINCT, SENDER, MILTER_BIN, BUILD,
# QUIET_MAX, QUIET_WAIT) and runs nothing by itself.
#
# It must never signal a process it did not start (milters, sinks: by the
# pid it recorded; Postfix: through pf_stop), never write outside W and OUT,
# and never let an unchecked cell into the results: every check failure is
# fatal to the run.

MPID=
SINK_PID=
DUMP_PID=
declare -A SENT  # messages of each size sent so far: where send.py goes on
CUR_SIZE=5k      # the size of the cell in progress (cell_mail)

# cleanup - stop the milter, the sinks and the Postfix instance; remove W
# unless KEEP=1. Runs at exit; never fails.
cleanup() {
    stop_milter
    local p
    for p in $SINK_PID $DUMP_PID; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    [ -n "${W:-}" ] && pf_stop "$W/pf" >/dev/null 2>&1
    if [ "${KEEP:-0}" = 1 ]; then say "kept $W"; else [ -n "${W:-}" ] && rm -rf "$W"; fi
    return 0
}

# make_distinct_pdfs K - print K paths of distinct signed 1 MB PDFs, made
# once in OUT/pdf-K (pdfgen.py big with sizes 1000001.., signed by pdfsig
# with the fixtures' NSS db, as mkfixtures.sh signs big-1m-signed.pdf).
# Dies when a tool fails or two files come out the same.
make_distinct_pdfs() {
    local k=$1 dir=$OUT/pdf-$1 i
    if [ ! -f "$dir/done" ]; then
        say "signing $k distinct 1 MB PDFs into $dir"
        rm -rf "$dir" && mkdir -p "$dir" && cp -r "$FX/nss" "$W/nss" || die "cannot copy $FX/nss"
        for i in $(seq 1 "$k"); do
            python3 "$TOP/tests/fixtures/pdfgen.py" big "$W/u.pdf" $((1000000 + i)) &&
                pdfsig -nssdir "sql:$W/nss" -nick org -sign Sig1 -digest SHA256 \
                    "$W/u.pdf" "$dir/doc-$i.pdf" >/dev/null ||
                die "cannot make $dir/doc-$i.pdf"
        done
        [ "$(sha256sum "$dir"/doc-*.pdf | cut -d' ' -f1 | sort -u | wc -l)" = "$k" ] ||
            die "the $k PDFs in $dir are not all different"
        touch "$dir/done"
    fi
    for i in $(seq 1 "$k"); do echo "$dir/doc-$i.pdf"; done
}

# make_messages - write W/msg/5k.eml, the 1m message(s) and, when SIZES
# has 10m, W/msg/10m.eml (big-10m-signed.pdf); set the arrays MSG_5K,
# MSG_1M and MSG_10M. Dies when mkmsg.py fails.
make_messages() {
    local pdfs i=0 p
    mkdir -p "$W/msg"
    python3 "$HERE/mkmsg.py" plain "$W/msg/5k.eml" 5120 || die "mkmsg.py plain failed"
    MSG_5K=("$W/msg/5k.eml")
    if [ "$DISTINCT" -gt 0 ]; then
        pdfs=$(make_distinct_pdfs "$DISTINCT") || exit 2
    else
        pdfs=$FX/pdf/big-1m-signed.pdf
    fi
    MSG_1M=()
    for p in $pdfs; do
        i=$((i + 1))
        python3 "$HERE/mkmsg.py" pdf "$W/msg/1m-$i.eml" "$p" || die "mkmsg.py pdf $p failed"
        MSG_1M+=("$W/msg/1m-$i.eml")
    done
    MSG_10M=()
    case " $SIZES " in *" 10m "*)
        python3 "$HERE/mkmsg.py" pdf "$W/msg/10m.eml" "$FX/pdf/big-10m-signed.pdf" ||
            die "mkmsg.py pdf big-10m-signed.pdf failed"
        MSG_10M=("$W/msg/10m.eml") ;;
    esac
}

# cell_mail SIZE - set N, FILES and CUR_SIZE (global) to the count and
# message files of SIZE (5k, 1m, 10m). Dies on another SIZE.
cell_mail() {
    CUR_SIZE=$1
    case $1 in
        5k) N=$N_5K FILES=("${MSG_5K[@]}") ;;
        1m) N=$N_1M FILES=("${MSG_1M[@]}") ;;
        10m) N=$N_10M FILES=("${MSG_10M[@]}") ;;
        *) die "unknown size $1 (5k, 1m or 10m)" ;;
    esac
}

# make_dkim_key - a 2048-bit test key for OpenDKIM in W/dkim/bench.private.
make_dkim_key() {
    opendkim-genkey -b 2048 -D "$W/dkim" -d sotttt.demo.gov.vn -s bench ||
        die "opendkim-genkey failed"
}

# start_instance - pick the ports, start the sinks and a private Postfix
# whose mail goes by smtp(8) to the counting sink, except CHECK_TO, which
# goes to the keeping sink. Sets PORT and the *_PORT variables; dies on
# failure.
start_instance() {
    local ports pf=$W/pf
    ports=$(pf__free_ports 4) || die "no free ports"
    read -r SINK_PORT DUMP_PORT KYSO_PORT DKIM_PORT <<<"${ports//$'\n'/ }"
    start_sinks
    mkdir -p "$pf"
    pf_start "$pf" >"$W/pf-start.log" 2>&1 || die "Postfix did not start: $(cat "$W/pf-start.log")"
    /usr/sbin/postconf -c "$pf/etc" -Me 'smtp/unix=smtp unix - - n - - smtp' ||
        die "cannot add smtp(8) to master.cf"
    # Relay everything to the sink: no virtual(8) domains, no DNS, no
    # connection cache (a cached session to a sink would outlive nothing,
    # but each message then costs the same connect for every variant).
    pf_postconf "$pf" default_transport=smtp "relayhost=[127.0.0.1]:$SINK_PORT" \
        virtual_mailbox_domains= virtual_mailbox_maps= \
        "transport_maps=inline:{ $CHECK_TO=smtp:[127.0.0.1]:$DUMP_PORT }" \
        smtp_connection_cache_on_demand=no smtpd_milters= non_smtpd_milters= \
        >>"$W/pf-start.log" 2>&1 || die "pf_postconf failed: $(cat "$W/pf-start.log")"
    PORT=$(pf_port "$pf")
}

# milter_spec VARIANT - print the smtpd_milters value of VARIANT.
milter_spec() {
    case $1 in
        none) echo "" ;;
        null-unix) echo "unix:$W/null.sock" ;;
        kyso-unix | kyso-unix-nocache) echo "unix:$W/kyso.sock" ;;
        kyso-inet) echo "inet:127.0.0.1:$KYSO_PORT" ;;
        opendkim-unix) echo "unix:$W/dkim.sock" ;;
        opendkim-inet) echo "inet:127.0.0.1:$DKIM_PORT" ;;
        *) die "unknown variant $1" ;;
    esac
}

# smtpd_pids - print the pids of the instance's smtpd processes.
smtpd_pids() {
    local p
    for p in $(pf_pids "$W/pf"); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = smtpd ] && echo "$p"
    done
    return 0
}

# any_alive PID... - succeed when one of the PIDs still runs (not a zombie).
any_alive() {
    local p
    for p in "$@"; do pf__alive "$p" && return 0; done
    return 1
}

# use_variant VARIANT - point smtpd_milters at VARIANT's milter, reload, and
# wait (at most 10 s) until every smtpd started before the reload is gone:
# an old one could still take the next connection with the old milter.
# Fails when the reload fails or an old smtpd stays.
use_variant() {
    local old
    old=$(smtpd_pids)
    pf_postconf "$W/pf" "smtpd_milters=$(milter_spec "$1")" >>"$W/pf-start.log" 2>&1 &&
        wait_for 10 eval "! any_alive ${old//$'\n'/ }"
}

# write_kyso_conf VARIANT - write W/VARIANT.conf: the fixture PKI,
# EnforceDomains matching both envelope domains, no notices, no syslog, file
# store in W/store; the verification cache at its default size, or off
# (VerifyCacheSize 0) for kyso-unix-nocache.
write_kyso_conf() {
    local sock="local:$W/kyso.sock" cache=1000
    [ "$1" = kyso-inet ] && sock="inet:$KYSO_PORT@127.0.0.1"
    [ "$1" = kyso-unix-nocache ] && cache=0
    cat >"$W/$1.conf" <<EOF
Socket $sock
SocketMode 0666
Syslog no
AuthservID mx.kyso.test
NodeName bench
TrustAnchors $FX/pki/anchors
Intermediates $FX/pki/intermediates
CRLs $FX/pki/crl
EnforceDomains *.demo.gov.vn
Notify no
Store file:$W/store
VerifyCacheSize $cache
EOF
}

# write_dkim_conf KIND - write W/dkim-KIND.conf: sign mode for
# sotttt.demo.gov.vn with the test key; 127.0.0.1 is an internal host by
# default, so all the benchmark's mail is signed.
write_dkim_conf() {
    local sock="local:$W/dkim.sock"
    [ "$1" = inet ] && sock="inet:$DKIM_PORT@127.0.0.1"
    cat >"$W/dkim-$1.conf" <<EOF
Syslog no
Mode s
Domain sotttt.demo.gov.vn
Selector bench
KeyFile $W/dkim/bench.private
RequireSafeKeys no
Canonicalization relaxed/simple
SignatureAlgorithm rsa-sha256
Socket $sock
UMask 000
EOF
}

# milter_ready VARIANT - succeed when VARIANT's socket accepts connections
# (unix: the socket file exists; inet: the port listens).
milter_ready() {
    case $1 in
        kyso-unix | kyso-unix-nocache) [ -S "$W/kyso.sock" ] ;;
        null-unix) [ -S "$W/null.sock" ] ;;
        opendkim-unix) [ -S "$W/dkim.sock" ] ;;
        kyso-inet) pf__listening "$KYSO_PORT" ;;
        opendkim-inet) pf__listening "$DKIM_PORT" ;;
    esac
}

# build_null_milter - compile bench/mailpath/nullmilter.c (the null-unix
# variant: reads the message, does nothing) into W/bin once; dies when the
# compiler fails (it needs gcc and libmilter-dev).
build_null_milter() {
    [ -x "$W/bin/nullmilter" ] && return 0
    cc -O2 -Wall -o "$W/bin/nullmilter" "$HERE/nullmilter.c" -lmilter -pthread 2>>"$W/null.log" ||
        die "cannot build nullmilter: $(tail -3 "$W/null.log")"
}

# start_milter VARIANT - start VARIANT's milter in the foreground of a
# background job; set MPID (empty for none) and IDLE_KB (its RSS before any
# mail). Dies when it is not ready in 10 s.
start_milter() {
    local v=$1
    MPID='' IDLE_KB=0
    case $v in
        none) return 0 ;;
        null-unix) rm -f "$W/null.sock"; build_null_milter
            "$W/bin/nullmilter" "local:$W/null.sock" 2>>"$W/$v.log" & ;;
        kyso-*) rm -f "$W/kyso.sock"; write_kyso_conf "$v"
            "$MILTER_BIN" -f -c "$W/$v.conf" 2>>"$W/$v.log" & ;;
        opendkim-*) rm -f "$W/dkim.sock"; write_dkim_conf "${v##*-}"
            opendkim -f -x "$W/dkim-${v##*-}.conf" 2>>"$W/$v.log" & ;;
    esac
    MPID=$!
    wait_for 10 milter_ready "$v" || die "$v did not start: $(tail -5 "$W/$v.log")"
    IDLE_KB=$(proc_kb VmRSS)
}

# stop_milter - SIGTERM the milter started last, wait at most 5 s, then
# SIGKILL it. Never fails.
stop_milter() {
    [ -n "$MPID" ] || return 0
    kill -TERM "$MPID" 2>/dev/null
    # A dead child stays a zombie until waited for: pf__alive says gone.
    wait_for 5 eval '! pf__alive "$MPID"' || kill -KILL "$MPID" 2>/dev/null
    wait "$MPID" 2>/dev/null
    MPID=
}

# proc_kb FIELD - print FIELD (VmHWM, VmRSS) of the milter in kB, 0 when none.
proc_kb() {
    [ -n "$MPID" ] || { echo 0; return; }
    awk -v f="$1:" '$1 == f { print $2 }' "/proc/$MPID/status"
}

# reset_hwm - make the milter's VmHWM start again from its current RSS
# (Linux: "5" to /proc/PID/clear_refs), so that each cell has its own peak.
# Dies when the kernel refuses.
reset_hwm() {
    [ -n "$MPID" ] || return 0
    echo 5 >"/proc/$MPID/clear_refs" || die "cannot reset VmHWM of $MPID"
}

# proc_cpu_ms - print the milter's user+system CPU time in ms, 0 when none.
proc_cpu_ms() {
    [ -n "$MPID" ] || { echo 0; return; }
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000 / hz }' "/proc/$MPID/stat"
}

# sender_cmd N CONC TO FILE... - print (NUL-separated) the command that sends
# N messages at concurrency CONC to TO, per SENDER; send.py starts at file
# number SENT[CUR_SIZE], so with --distinct K no file of the 1m list comes
# back before K messages.
sender_cmd() {
    local n=$1 c=$2 to=$3; shift 3
    if [ "$SENDER" = smtp-source ]; then
        printf '%s\0' /usr/sbin/smtp-source -F "$1" -m "$n" -s "$c" -f "$FROM" -t "$to" \
            "127.0.0.1:$PORT"
    else
        printf '%s\0' python3 "$HERE/send.py" --port "$PORT" --from "$FROM" --to "$to" \
            --count "$n" --concurrency "$c" --first "${SENT[$CUR_SIZE]:-0}" "$@"
    fi
}

# send_round N CONC TO FILE... - send N messages and wait until the counting
# sink has them (round.py); print "wall=S sent=S" and add N to
# SENT[CUR_SIZE]. Fails when round.py does.
send_round() {
    local -a cmd
    mapfile -d '' cmd < <(sender_cmd "$@")
    python3 "$HERE/round.py" --sink-log "$W/sink.out" --count "$1" --timeout 300 -- \
        "${cmd[@]}" || return 1
    SENT[$CUR_SIZE]=$((${SENT[$CUR_SIZE]:-0} + $1))
}

# unfolded_headers FILE - print the header section of FILE with folded
# lines joined, one header a line.
unfolded_headers() {
    awk '/^$/ { exit } /^[ \t]/ { sub(/^[ \t]+/, " "); h = h $0; next }
         { if (h != "") print h; h = $0 } END { if (h != "") print h }' "$1"
}

# check_delivery VARIANT SIZE - send one message to CHECK_TO (the keeping
# sink) and check what VARIANT's milter did to it. Dies, saying why, when
# the check fails.
check_delivery() {
    local v=$1 s=$2 f hdr
    rm -f "$W"/dump/*
    cell_mail "$s"
    local -a cmd
    mapfile -d '' cmd < <(sender_cmd 1 1 "$CHECK_TO" "${FILES[@]}")
    "${cmd[@]}" || die "$v: the check message was refused"
    SENT[$CUR_SIZE]=$((${SENT[$CUR_SIZE]:-0} + 1))
    wait_for 20 eval '[ -n "$(ls "$W/dump")" ]' && pf_queue_empty_wait "$W/pf" 20 ||
        die "$v: the check message did not reach the keeping sink"
    f=$(ls "$W"/dump/* | head -1)
    hdr=$(unfolded_headers "$f")
    case $v in
        none) ! grep -qiE '^(DKIM-Signature|X-Kyso-[A-Za-z-]+):' <<<"$hdr" ;;
        null-unix) grep -q '^Authentication-Results: mx.null.test; none' <<<"$hdr" ;;
        kyso-*) grep -q '^Authentication-Results: mx.kyso.test;' <<<"$hdr" &&
            { [ "$s" = 5k ] || grep -q '^X-Kyso-Document: .*verdict=valid' <<<"$hdr"; } ;;
        opendkim-*) grep -qE '^DKIM-Signature: .*d=sotttt\.demo\.gov\.vn;.*;[ ]*b=[A-Za-z0-9+/]' \
            <<<"$hdr" ;;
    esac || die "$v $s: the delivered check message lacks the milter's mark; headers:
$hdr"
}

# records_count - print the number of kyso decision records so far.
records_count() {
    if [ -f "$W/store/decisions.jsonl" ]; then wc -l <"$W/store/decisions.jsonl"; else echo 0; fi
}

# check_records FROM N SIZE - check that decision records FROM+1..FROM+N
# exist (waiting at most 10 s) and that each says the message was watched
# and accepted, and for 1m that its one document verified: reason ok.
# Dies when not.
check_records() {
    local from=$1 n=$2 s=$3
    wait_for 10 eval '[ "$(records_count)" -ge $((from + n)) ]' ||
        die "kyso: $(($(records_count) - from)) decision records for $n messages"
    tail -n +"$((from + 1))" "$W/store/decisions.jsonl" | jq -s -e --argjson n "$n" \
        --arg s "$s" 'length == $n and all(.[]; (.flow | startswith("watched")) and
          .action == "accept" and if $s == "5k" then .reason == "no_documents"
          else .reason == "ok" and (.documents | length == 1) and .documents[0].reason == "ok"
          and .documents[0].verdict == "valid" end)' >/dev/null ||
        die "kyso: the decision records of the cell do not all say accept/ok"
}

. "$TOP/bench/common.sh"        # busy_pct, wait_for, start_sinks

# quiet_gate - wait until the machine is quiet between rounds (busy under
# QUIET_MAX percent over 0.5 s: nobody else's build or fuzzer is running),
# at most QUIET_WAIT seconds. Prints the last busy figure; fails when the
# machine stayed busy.
quiet_gate() {
    local end=$((SECONDS + QUIET_WAIT)) b
    while :; do
        b=$(busy_pct 0.5)
        [ "$b" -lt "$QUIET_MAX" ] && { echo "$b"; return 0; }
        [ "$SECONDS" -lt "$end" ] || { echo "$b"; return 1; }
        sleep 1
    done
}

# run_cell RUN VARIANT SIZE CONC - one measured cell with the running
# milter: the check message, CONC warm-up messages, then the timed round,
# VmHWM reset just before it. The round waits for a quiet machine
# (quiet_gate) and is measured again, up to twice, when the machine was busy
# right after it (someone else's job started meanwhile). Prints one TSV line
# (see run.sh; busy_pct is the larger figure before and after the round
# kept). Dies on any failure.
run_cell() {
    local run=$1 v=$2 s=$3 c=$4 n idle=$IDLE_KB hwm cpu0 cpu1 rec0 out files b0 b1
    check_delivery "$v" "$s"
    cell_mail "$s"
    n=$N files=("${FILES[@]}")
    send_round "$c" "$c" "$TO" "${files[@]}" >/dev/null || die "$v $s c=$c: warm-up failed"
    for _ in 1 2 3; do
        b0=$(quiet_gate) || say "machine still busy ($b0%) after ${QUIET_WAIT} s: measuring anyway"
        rec0=$(records_count)
        cpu0=$(proc_cpu_ms)
        reset_hwm
        send_round "$n" "$c" "$TO" "${files[@]}" >"$W/round.out" ||
            die "$v $s c=$c: the round failed"
        out=$(cat "$W/round.out")
        cpu1=$(proc_cpu_ms)
        hwm=$(proc_kb VmHWM)
        pf_queue_empty_wait "$W/pf" 30 || die "$v $s c=$c: mail left in the queue"
        case $v in kyso-*) check_records "$rec0" "$n" "$s" ;; esac
        b1=$(busy_pct 0.3)
        [ "$b1" -lt "$QUIET_MAX" ] && break
        say "run $run $v $s c=$c: machine busy after the round ($b1%): measuring again"
    done
    [ "$b1" -gt "$b0" ] && b0=$b1
    say "run $run $v $s c=$c: $out"
    out=${out#wall=}
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$v" "$s" "$c" "$n" \
        "${out%% *}" "${out##*sent=}" "$idle" "$hwm" "$(awk -v a="$cpu0" -v b="$cpu1" \
        'BEGIN { print b - a }')" "$b0"
}

# report TSV - print the markdown report of TSV: the machine, the table of
# medians and the verdict on the targets (report.py).
report() {
    python3 "$HERE/report.py" "$1" --machine "$(machine)" --date "$(date -u +%Y-%m-%d)" \
        --sender "$SENDER" --distinct "$DISTINCT" --runs "$RUNS" --build "$BUILD" \
        --busy "$QUIET_MAX"
}
