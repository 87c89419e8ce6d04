#!/usr/bin/env python3
"""smtp-send.py - send one RFC 5322 message over SMTP and report the reply.

For the end-to-end tests of kyso-milter: it sends FILE (or standard input
with --data-from -) to a test Postfix instance and prints exactly one line

    RESULT <code> <text>

on standard output, where <code> and <text> are the server's reply to the
end of DATA, or to the command that failed first (greeting, STARTTLS, AUTH,
MAIL, DATA; RCPT when every recipient was refused). Multi-line replies are
joined with " | ". Recipients refused while others were accepted are
reported on standard error, one "RCPT <addr> <code> <text>" line each.

Exit status: 0 whenever a server reply was printed, whatever its code (the
test decides); 2 when the connection failed or was lost; 1 on a local
problem (unreadable file, AUTH or STARTTLS asked for but not offered);
64 on a usage error.

It must never decide for the test: no retry, no fallback to another port,
no rewriting of the message other than SMTP's own dot-stuffing and CRLF
line ends. It uses the Python standard library only.
"""

import argparse
import smtplib
import ssl
import sys


class Usage(argparse.ArgumentParser):
    """An argument parser whose usage errors exit 64, not argparse's 2."""

    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write("smtp-send.py: %s\n" % message)
        sys.exit(64)


class Reply(Exception):
    """A final server reply that ends the transaction early."""

    def __init__(self, code, text):
        super().__init__(code, text)
        self.code = code
        self.text = text


def parse_args(argv):
    """Return the parsed command line; exits 64 on a usage error."""
    p = Usage(description="Send one message over SMTP; print RESULT <code> <text>.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--from", dest="sender", required=True,
                   help="envelope sender; '' or '<>' for the null sender")
    p.add_argument("--to", action="append", required=True, help="envelope recipient (repeat)")
    p.add_argument("--auth", nargs=2, metavar=("USER", "PASS"))
    p.add_argument("--starttls", choices=("auto", "yes", "no"), default="auto",
                   help="auto: use it when offered (default); yes: required; no: never")
    p.add_argument("--helo", default="client.kyso.test")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--data-from", metavar="FILE", help="read the message from FILE, - for stdin")
    p.add_argument("file", nargs="?", help="the message (RFC 5322)")
    a = p.parse_args(argv)
    if (a.file is None) == (a.data_from is None):
        p.error("give exactly one of FILE and --data-from")
    return a


def read_message(args):
    """Return the message bytes; exits 1 when they cannot be read."""
    name = args.data_from if args.data_from is not None else args.file
    try:
        if name == "-":
            return sys.stdin.buffer.read()
        with open(name, "rb") as f:
            return f.read()
    except OSError as e:
        sys.stderr.write("smtp-send.py: cannot read %s: %s\n" % (name, e))
        sys.exit(1)


def text_of(resp):
    """Return a reply's text as one line: lines joined with ' | '."""
    if isinstance(resp, bytes):
        resp = resp.decode("utf-8", "replace")
    return " | ".join(line.strip() for line in str(resp).splitlines())


def check(reply, good):
    """Return reply when its code is in good, else raise Reply with it."""
    code, resp = reply
    if code not in good:
        raise Reply(code, text_of(resp))
    return reply


def start_tls(smtp, mode):
    """Run STARTTLS as mode asks (no certificate check: a test server).
    Raises Reply on a refusal; exits 1 when required but not offered."""
    if mode == "no":
        return
    if not smtp.has_extn("starttls"):
        if mode == "yes":
            sys.stderr.write("smtp-send.py: STARTTLS required but not offered\n")
            sys.exit(1)
        return
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        smtp.starttls(context=ctx)
    except smtplib.SMTPResponseException as e:
        raise Reply(e.smtp_code, text_of(e.smtp_error))
    check(smtp.ehlo(), (250,))


def authenticate(smtp, user, password):
    """AUTH with one attempt (PLAIN, else LOGIN). Raises Reply on refusal;
    exits 1 when the server offers neither."""
    mechs = (smtp.esmtp_features.get("auth") or "").upper().split()
    mech = "PLAIN" if "PLAIN" in mechs else "LOGIN" if "LOGIN" in mechs else None
    if mech is None:
        sys.stderr.write("smtp-send.py: server offers no AUTH PLAIN or LOGIN\n")
        sys.exit(1)
    smtp.user, smtp.password = user, password
    obj = smtp.auth_plain if mech == "PLAIN" else smtp.auth_login
    try:
        smtp.auth(mech, obj, initial_response_ok=True)
    except smtplib.SMTPResponseException as e:
        raise Reply(e.smtp_code, text_of(e.smtp_error))


def mail_options(smtp, args, data):
    """Return the MAIL FROM parameters the message and addresses need."""
    opts = []
    if any(b > 127 for b in data) and smtp.has_extn("8bitmime"):
        opts.append("BODY=8BITMIME")
    addrs = [args.sender] + args.to
    if any(not a.isascii() for a in addrs) and smtp.has_extn("smtputf8"):
        opts.append("SMTPUTF8")
    return opts


def transact(smtp, args, data):
    """Run one SMTP transaction; return the final (code, text) pair."""
    check(smtp.ehlo(args.helo), (250,))
    start_tls(smtp, args.starttls)
    if args.auth:
        authenticate(smtp, args.auth[0], args.auth[1])
    sender = "" if args.sender in ("", "<>") else args.sender
    check(smtp.mail(sender, mail_options(smtp, args, data)), (250,))
    refused = []
    for rcpt in args.to:
        code, resp = smtp.rcpt(rcpt)
        if code not in (250, 251):
            refused.append((rcpt, code, text_of(resp)))
    if len(refused) == len(args.to):
        raise Reply(refused[0][1], refused[0][2])
    for rcpt, code, text in refused:
        sys.stderr.write("RCPT %s %d %s\n" % (rcpt, code, text))
    try:
        code, resp = smtp.data(data)
    except smtplib.SMTPDataError as e:
        raise Reply(e.smtp_code, text_of(e.smtp_error))
    return code, text_of(resp)


def main(argv):
    """Send the message; print the RESULT line; return the exit status."""
    args = parse_args(argv)
    data = read_message(args)
    try:
        smtp = smtplib.SMTP(timeout=args.timeout, local_hostname=args.helo)
        try:
            code, resp = smtp.connect(args.host, args.port)
            check((code, resp), (220,))
            code, text = transact(smtp, args, data)
        except Reply as r:
            code, text = r.code, r.text
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    except (smtplib.SMTPServerDisconnected, OSError) as e:
        sys.stderr.write("smtp-send.py: connection to %s:%d failed: %s\n"
                         % (args.host, args.port, e))
        return 2
    print("RESULT %d %s" % (code, text))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
