# bench/quiet.sh - sourced by the benchmarks: how busy the machine is.
# Defines busy_pct only; runs nothing.

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
