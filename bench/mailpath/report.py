#!/usr/bin/env python3
"""report.py - turn bench/mailpath/run.sh's results.tsv into the markdown
report: the machine line, one table row per (mail, concurrency, variant)
with the median of the runs, and the verdict on the issue's targets.

    report.py TSV --machine TEXT --date YYYY-MM-DD --sender S --distinct K --runs N
              [--build TEXT] [--busy PCT]

TSV columns: run variant size conc count wall_s sent_s idle_kb hwm_kb cpu_ms
busy_pct (the machine's busy share just before or after the round).
Throughput is count / median wall time. "vs none" compares with the
no-milter row of the same mail and concurrency. Memory: the milter's RSS
before any mail (idle) and its peak during the round (VmHWM, the largest over
the runs). MB per concurrent message: at concurrency 1, peak - idle (what
one message in flight costs); at C > 1, (peak at C - peak at 1) / (C - 1),
what each further message in flight adds.

It must never invent a figure: a missing cell prints "-", and a target
whose rows are missing is reported as not measured. Standard library only.
Exit 0, or 1 when TSV cannot be read, 64 on a usage error.
"""

import argparse
import statistics
import sys
from collections import defaultdict

ORDER = ["none", "null-unix", "kyso-unix", "kyso-inet", "kyso-unix-nocache", "opendkim-unix",
         "opendkim-inet"]
SIZES = ["5k", "1m", "10m"]
TARGET_SHARE = 0.80


def load(path):
    """Return {(size, conc, variant): [row dicts]} from the TSV at path.
    Raises OSError or ValueError on an unreadable file."""
    cells = defaultdict(list)
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        for line in f:
            if not line.strip():
                continue
            row = dict(zip(head, line.rstrip("\n").split("\t")))
            for k in ("count", "conc", "idle_kb", "hwm_kb"):
                row[k] = int(float(row[k]))
            for k in ("wall_s", "sent_s", "cpu_ms"):
                row[k] = float(row[k])
            row["busy_pct"] = int(row.get("busy_pct") or 0)
            cells[(row["size"], row["conc"], row["variant"])].append(row)
    return cells


def summary(rows):
    """Return the figures of one cell from its runs."""
    wall = statistics.median(r["wall_s"] for r in rows)
    n = rows[0]["count"]
    idle = min(r["idle_kb"] for r in rows) / 1024
    peak = max(r["hwm_kb"] for r in rows) / 1024
    return {"rate": n / wall, "ms": wall * 1000 / n, "walls": [r["wall_s"] for r in rows],
            "cpu": statistics.median(r["cpu_ms"] for r in rows) / n, "idle": idle,
            "peak": peak, "n": n, "conc": rows[0]["conc"],
            "busy": max(r["busy_pct"] for r in rows)}


def per_message(sums, key):
    """Return the MB one more concurrent message costs in cell key (see the
    file comment), or None when the concurrency-1 row is missing."""
    s = sums[key]
    if s["conc"] == 1:
        return s["peak"] - s["idle"]
    one = sums.get((key[0], 1, key[2]))
    return (s["peak"] - one["peak"]) / (s["conc"] - 1) if one else None


def table(cells):
    """Return the markdown table lines, and {(size, conc, variant): summary}."""
    sums = {k: summary(v) for k, v in cells.items()}
    out = ["| mail | conc | variant | msg/s | ms/msg | vs none | milter CPU ms/msg "
           "| milter RSS idle / peak MB | MB per concurrent msg | wall s (runs) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    sizes = sorted({k[0] for k in sums}, key=lambda s: SIZES.index(s) if s in SIZES else 99)
    for size in sizes:
        for conc in sorted({k[1] for k in sums if k[0] == size}):
            base = sums.get((size, conc, "none"))
            for v in ORDER:
                s = sums.get((size, conc, v))
                if s is None:
                    continue
                share = "%.0f%%" % (100 * s["rate"] / base["rate"]) if base else "-"
                if v == "none":
                    mem, per, cpu = "-", "-", "-"
                else:
                    mem = "%.1f / %.1f" % (s["idle"], s["peak"])
                    pm = per_message(sums, (size, conc, v))
                    per = "-" if pm is None else "%.2f" % pm
                    cpu = "%.1f" % s["cpu"]
                out.append("| %s | %d | %s | %.1f | %.1f | %s | %s | %s | %s | %s |" % (
                    size, conc, v, s["rate"], s["ms"], share, cpu, mem, per,
                    " ".join("%.2f" % w for w in s["walls"])))
    return out, sums


def targets(sums):
    """Return the lines judging the 1m targets: kyso >= 80% of no milter,
    and kyso >= OpenDKIM on the same kind of socket."""
    out = []
    for conc in sorted({k[1] for k in sums if k[0] == "1m"}):
        base = sums.get(("1m", conc, "none"))
        null = sums.get(("1m", conc, "null-unix"))
        if base and null:
            out.append("- 1m, c=%d, null-unix (reads the message, does nothing): %.0f%% of no "
                       "milter: the ceiling of any milter that reads the body, unix socket" % (
                           conc, 100 * null["rate"] / base["rate"]))
        for var, peer in (("kyso-unix", "opendkim-unix"), ("kyso-inet", "opendkim-inet"),
                          ("kyso-unix-nocache", "opendkim-unix")):
            k, d = sums.get(("1m", conc, var)), sums.get(("1m", conc, peer))
            if k is None:
                continue
            if base:
                share = k["rate"] / base["rate"]
                out.append("- 1m, c=%d, %s: %.0f%% of no milter (target >= 80%%): %s" % (
                    conc, var, 100 * share, "met" if share >= TARGET_SHARE else "**NOT met**"))
            else:
                out.append("- 1m, c=%d, %s: no 'none' row, share not measured" % (conc, var))
            if d:
                r = k["rate"] / d["rate"]
                out.append("- 1m, c=%d, %s: %.2f x %s (target >= 1): %s" % (
                    conc, var, r, peer, "met" if r >= 1 else "**NOT met**"))
    return out or ["- no 1m kyso rows: targets not measured"]


def main():
    """Parse the arguments, print the report; return the exit status."""
    p = argparse.ArgumentParser(prog="report.py")
    p.add_argument("tsv")
    p.add_argument("--machine", default="unknown machine")
    p.add_argument("--date", default="")
    p.add_argument("--sender", default="smtp-source")
    p.add_argument("--distinct", type=int, default=0)
    p.add_argument("--runs", default="?")
    p.add_argument("--build", default="")
    p.add_argument("--busy", type=int, default=15)
    try:
        args = p.parse_args()
    except SystemExit as e:
        return 64 if e.code else 0
    try:
        cells = load(args.tsv)
    except (OSError, ValueError, KeyError) as e:
        sys.stderr.write("report.py: %s: %s\n" % (args.tsv, e))
        return 1
    pdf = ("%d different signed 1 MB PDFs, alternating" % args.distinct if args.distinct
           else "the same signed 1 MB PDF in every message")
    lines = ["Machine: %s. %s. Sender: %s; 1m mail: %s. Median of %s runs." % (
        args.machine, args.date, args.sender, pdf, args.runs)]
    if args.build:
        lines.append("kyso-milter: %s." % args.build)
    lines.append("")
    rows, sums = table(cells)
    lines += rows + [""] + targets(sums)
    busy = ["%s c=%d %s (%d%%)" % (k[0], k[1], k[2], s["busy"])
            for k, s in sorted(sums.items()) if s["busy"] >= args.busy]
    if busy:
        lines += ["", "Measured while the machine was busy with other work (>= %d%% "
                  "just before or after a round): %s." % (args.busy, "; ".join(busy))]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
