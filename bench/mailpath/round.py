#!/usr/bin/env python3
"""round.py - time one benchmark round of bench/mailpath/run.sh.

    round.py --sink-log FILE --count N [--timeout S] -- SENDER-COMMAND...

FILE is the standard output of `smtp-sink -c`, which writes its counters
("sess=A quit=B mesg=C", ended by CR) each time a message or session ends.
round.py reads the message count already there, starts the clock, runs the
sender command (smtp-source or send.py), then watches FILE every 2 ms until
the sink has N more messages. It prints one line

    wall=SECONDS sent=SECONDS

wall: from the start of the sender until the sink got the N-th message
(the end-to-end time, milters included); sent: until the sender exited
(every message accepted by Postfix's smtpd, so the milters' time is in it).

It must never send mail itself nor touch FILE. Exit 0 on success; 1 when
the sender fails, the sink gets more than N messages, or S seconds (default
300) pass first; 64 on a usage error.
"""

import re
import subprocess
import sys
import time

MESG = re.compile(rb"mesg=(\d+)")


def sink_count(path):
    """Return the last mesg= count in the smtp-sink counter file at path,
    0 when there is none yet. Raises OSError when it cannot be read."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 256))
        found = MESG.findall(f.read())
    return int(found[-1]) if found else 0


def parse(argv):
    """Return (sink_log, count, timeout, command) or None on a usage error."""
    if "--" not in argv:
        return None
    opts, cmd = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    kv = dict(zip(opts[0::2], opts[1::2]))
    if len(opts) % 2 or not cmd or "--sink-log" not in kv or "--count" not in kv:
        return None
    return kv["--sink-log"], int(kv["--count"]), float(kv.get("--timeout", 300)), cmd


def main(argv):
    """Run one round; return the exit status."""
    try:
        parsed = parse(argv[1:])
    except ValueError:
        parsed = None
    if parsed is None:
        sys.stderr.write("usage: round.py --sink-log FILE --count N [--timeout S] -- CMD...\n")
        return 64
    log, n, timeout, cmd = parsed
    want = sink_count(log) + n
    t0 = time.monotonic()
    rc = subprocess.call(cmd)
    sent = time.monotonic() - t0
    if rc != 0:
        sys.stderr.write("round.py: the sender exited %d\n" % rc)
        return 1
    got = sink_count(log)
    while got < want and time.monotonic() - t0 < timeout:
        time.sleep(0.002)
        got = sink_count(log)
    wall = time.monotonic() - t0
    if got != want:
        sys.stderr.write("round.py: the sink counted %d messages, %d expected\n"
                         % (got - want + n, n))
        return 1
    print("wall=%.4f sent=%.4f" % (wall, sent))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
