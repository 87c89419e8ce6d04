# bench/common.sh - what the mail-path and signing benchmarks share:
# how busy the machine is, waiting for a condition, and the two smtp-sink
# processes.  Sourced after W, SINK_PORT, DUMP_PORT and die are known;
# defines functions only, runs nothing.

# busy_pct SECONDS - print the share of the machine's CPU time (all CPUs,
# from /proc/stat) that was busy during the next SECONDS, in percent.
busy_pct() {
    local a b
    a=$(head -1 /proc/stat) && sleep "$1" && b=$(head -1 /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {
        n = split(a, x); split(b, y); tot = 0
        for (i = 2; i <= n; i++) tot += y[i] - x[i]
        idle = (y[5] - x[5]) + (y[6] - x[6])
        printf "%d\n", (tot > 0) ? 100 * (tot - idle) / tot : 0 }'
}

# wait_for SECONDS CMD... - run CMD every 0.05 s until it succeeds; 1 when
# SECONDS pass first.
wait_for() {
    local end=$((SECONDS + $1)); shift
    until "$@"; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.05
    done
}

# start_sinks - start the counting sink (smtp-sink -c, counters in
# W/sink.out) and the keeping sink (-d, one file per message in W/dump).
# Sets SINK_PID, DUMP_PID.  Dies when either does not listen within 5 s.
start_sinks() {
    mkdir -p "$W/dump" && chown nobody "$W/dump"
    (cd "$W" && exec /usr/sbin/smtp-sink -c -u nobody "127.0.0.1:$SINK_PORT" 256) \
        >"$W/sink.out" 2>"$W/sink.err" &
    SINK_PID=$!
    (cd "$W" && exec /usr/sbin/smtp-sink -u nobody -d "$W/dump/%H%M%S." \
        "127.0.0.1:$DUMP_PORT" 16) >"$W/dump.err" 2>&1 &
    DUMP_PID=$!
    wait_for 5 pf__listening "$SINK_PORT" && wait_for 5 pf__listening "$DUMP_PORT" ||
        die "smtp-sink did not start: $(cat "$W/sink.err" "$W/dump.err")"
}
