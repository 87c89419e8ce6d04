#!/usr/bin/env python3
"""send.py - a small threaded SMTP sender for bench/mailpath/run.sh.

    send.py --port P [--host 127.0.0.1] [--user U --password PW]
            --from ADDR --to ADDR --count N --concurrency C [--first F] FILE...

Sends N messages over C parallel sessions, one SMTP connection per message
(as smtp-source does without -d); message i (0..N-1) is FILE[(F + i) %
number of FILEs], so several different files can alternate, which
smtp-source (one -F file per run) cannot do, and successive calls can go on
where the last one stopped (F, default 0). Each file is read once, its LF line ends turned into
CRLF and its lines dot-stuffed in advance, so the sender costs little CPU
per message.  With --user and --password each session authenticates
with AUTH PLAIN first, as a records clerk's mail client does on the
submission port (bench/sign).

It must never retry, never go on after a refusal and never alter a file
beyond SMTP's CRLF and dot-stuffing. Standard library only. Exit 0 when
every message got a 2xx reply to the end of DATA; 1 (saying which reply)
when one did not or the connection failed; 64 on a usage error.
"""

import argparse
import base64
import socket
import sys
import threading


def encode(path):
    """Return the DATA payload of the file at path: CRLF line ends, leading
    dots doubled, ending in CRLF.CRLF. Raises OSError when unreadable."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = [b"." + ln if ln.startswith(b".") else ln for ln in lines]
    return b"\r\n".join(out) + b"\r\n.\r\n"


class Session:
    """One SMTP connection with a line reader that keeps its own buffer."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=120)
        self.buf = b""

    def reply(self):
        """Read one (possibly multi-line) reply; return (code, last line).
        Raises OSError when the connection closes first."""
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise OSError("connection closed by the server")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), line.decode("utf-8", "replace")

    def cmd(self, data, want):
        """Send data (bytes), read the reply; raise RuntimeError unless its
        first digit is want."""
        if data:
            self.sock.sendall(data)
        code, line = self.reply()
        if code // 100 != want:
            raise RuntimeError(line)

    def close(self):
        """Close the socket. Never fails."""
        try:
            self.sock.close()
        except OSError:
            pass


def send_one(args, payload):
    """Send one message in a new session. Raises RuntimeError or OSError
    on a refusal or a lost connection."""
    s = Session(args.host, args.port)
    try:
        s.cmd(b"", 2)
        s.cmd(b"EHLO bench.kyso.test\r\n", 2)
        if args.auth:
            s.cmd(b"AUTH PLAIN " + args.auth + b"\r\n", 2)
        s.cmd(b"MAIL FROM:<%s>\r\n" % args.sender.encode(), 2)
        s.cmd(b"RCPT TO:<%s>\r\n" % args.rcpt.encode(), 2)
        s.cmd(b"DATA\r\n", 3)
        s.cmd(payload, 2)
        s.sock.sendall(b"QUIT\r\n")
    finally:
        s.close()


def worker(args, payloads, counter, lock, errors):
    """Take message numbers from counter until N are taken or an error was
    seen; record the first error in errors."""
    while True:
        with lock:
            if counter[0] >= args.count or errors:
                return
            i = counter[0]
            counter[0] += 1
        try:
            send_one(args, payloads[(args.first + i) % len(payloads)])
        except (OSError, RuntimeError) as e:
            with lock:
                errors.append("message %d: %s" % (i + 1, e))
            return


def main():
    """Parse the arguments, send, return the exit status."""
    p = argparse.ArgumentParser(prog="send.py")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("--to", dest="rcpt", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("files", nargs="+")
    try:
        args = p.parse_args()
    except SystemExit as e:
        return 64 if e.code else 0
    args.auth = None
    if args.user is not None:
        plain = b"\0" + args.user.encode() + b"\0" + (args.password or "").encode()
        args.auth = base64.b64encode(plain)
    try:
        payloads = [encode(f) for f in args.files]
    except OSError as e:
        sys.stderr.write("send.py: %s\n" % e)
        return 1
    counter, lock, errors = [0], threading.Lock(), []
    threads = [threading.Thread(target=worker, args=(args, payloads, counter, lock, errors))
               for _ in range(max(1, args.concurrency))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.stderr.write("send.py: %s\n" % errors[0])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
