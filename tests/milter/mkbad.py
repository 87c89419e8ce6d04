#!/usr/bin/env python3
"""mkbad.py - the bad input of tests/milter/run-badinput.sh, made at test
time (never committed), and a small MTA-side milter client for what
miltertest cannot send.

  mkbad.py gen FIXTURES OUTDIR
      writes OUTDIR/NAME.eml (CRLF line ends, as on the wire) for every
      case below, plus OUTDIR/NAME.body (the body alone) where the case
      needs mt.bodyfile (NUL bytes: mt.bodystring stops at the first NUL).
  mkbad.py send SOCKET FILE QUEUEID [TIMEOUT]
      sends FILE through the milter on the local SOCKET as an MTA would
      (Postfix-like: header fields one by one, no BODY command at all for
      an empty body, body in 65535-byte chunks) and prints one line: the
      milter's final answer ("reply 550 5.7.1 ...", "continue", "accept",
      ...) or "closed: WHY" when the milter dropped the connection.  Exit
      0 when a final answer came, 1 otherwise.  Used for header fields
      over 1 KB (miltertest's mt.header copies name and value into a
      fixed 1024-byte buffer) and for the message without a body
      (miltertest's mt.eom sends a dummy body first).

Python 3 standard library only.  Must never write outside OUTDIR, never
read anything but the fixture PDFs, and never talk to anything but the
socket it is given.
"""
import base64
import os
import socket
import struct
import sys

FROM = b"vanthu@sotttt.demo.gov.vn"
TO = b"tiepnhan@ubnd.demo.gov.vn"
BIG = 60 * 1024 * 1024          # the attachment over MaxMessageSize 50M
LONG = 100 * 1024               # a 100 KB header line
UNDER = 60 * 1024               # a long header line libmilter still takes


def b64(data):
    """Base64 in 76-column lines, CRLF line ends."""
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def head(name, subject=b"Cong van", extra=(), froms=(FROM,),
         ctype=b'multipart/mixed; boundary="b1"'):
    """The message header of case NAME, ending with its empty line."""
    lines = [b"From: " + f for f in froms]
    lines += [b"To: " + TO, b"Subject: " + subject,
              b"Date: Thu, 01 Jan 2026 08:00:00 +0700",
              b"Message-ID: <" + name.encode() + b"@bad.kyso.test>",
              b"MIME-Version: 1.0", b"Content-Type: " + ctype]
    lines += list(extra)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def text_part(b=b"b1", text=b"Kinh gui UBND tinh Demo."):
    return (b"--" + b + b"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
            text + b"\r\n")


def pdf_part(pdf, b=b"b1", name=b"congvan.pdf", body=None, hdr=None):
    """A base64 PDF part; HDR replaces its header lines, BODY its content."""
    if hdr is None:
        hdr = [b'Content-Type: application/pdf; name="' + name + b'"',
               b"Content-Transfer-Encoding: base64",
               b'Content-Disposition: attachment; filename="' + name + b'"']
    return (b"--" + b + b"\r\n" + b"\r\n".join(hdr) + b"\r\n\r\n" +
            (b64(pdf) if body is None else body))


def simple(name, pdf, **kw):
    """Case NAME: a text part and PDF, the header changed by KW."""
    fname = kw.pop("fname", b"congvan.pdf")
    return head(name, **kw) + text_part() + pdf_part(pdf, name=fname) + b"--b1--\r\n"


def spoil_b64(pdf, replace):
    """The base64 of PDF with '!' and '*' put in every 40 characters:
    inserted (REPLACE false: a decoder that skips them, as RFC 2045 asks,
    gets the PDF back) or in place of base64 letters (REPLACE true: the
    bytes that come out are not the PDF)."""
    s = base64.b64encode(pdf)
    out = bytearray()
    for i in range(0, len(s), 40):
        chunk = s[i:i + 40]
        if replace and len(chunk) == 40:
            chunk = chunk[:19] + b"!" + chunk[20:39] + b"*"
        elif not replace:
            chunk = chunk[:20] + b"!*" + chunk[20:]
        out += chunk
    return b"\r\n".join(out[i:i + 76] for i in range(0, len(out), 76)) + b"\r\n"


def cases_headers(signed, plain):
    """From and header field cases."""
    c = {}
    c["nofrom-signed"] = simple("nofrom-signed", signed, froms=())
    c["nofrom-unsigned"] = simple("nofrom-unsigned", plain, froms=())
    two = (FROM, b"ke-gia-mao@evil.example")
    c["twofrom-signed"] = simple("twofrom-signed", signed, froms=two)
    c["twofrom-unsigned"] = simple("twofrom-unsigned", plain, froms=two)
    c["hdrname-space"] = simple("hdrname-space", plain, extra=[b"X Bad Name: co dau cach"])
    c["hdrname-8bit"] = simple("hdrname-8bit", signed,
                               extra=["Tiêu-đề-riêng: giá trị".encode()])
    subj = "Công văn số 12 về việc ký số".encode()
    c["utf8-signed"] = simple("utf8-signed", signed, subject=subj,
                              fname="Công văn số 12.pdf".encode())
    lat = "Thông báo été".encode("latin-1")
    c["latin1-unsigned"] = simple("latin1-unsigned", plain, subject=lat,
                                  fname="Thông báo.pdf".encode("latin-1"))
    return c


def cases_mime(signed, plain):
    """Broken MIME structure and broken encodings."""
    c = {}
    for n, pdf in (("unclosed-signed", signed), ("unclosed-unsigned", plain)):
        c[n] = head(n) + text_part() + pdf_part(pdf)        # no closing --b1--
    junk = bytes(range(1, 9)) + b"\xff\xfe garbage --b1x \r\n--b1 no\r\n\x80\x81\r\n"
    c["garbage-unsigned"] = (head("garbage-unsigned") + text_part() + junk * 20 +
                             pdf_part(plain) + junk + b"--b1--\r\n")
    nocolon = [b'Content-Type: application/pdf; name="congvan.pdf"',
               b"this line has no colon at all",
               b"Content-Transfer-Encoding: base64",
               b'Content-Disposition: attachment; filename="congvan.pdf"']
    c["nocolon-unsigned"] = (head("nocolon-unsigned") + text_part() +
                             pdf_part(plain, hdr=nocolon) + b"--b1--\r\n")
    c["nocolon-signed"] = (head("nocolon-signed") + text_part() +
                           pdf_part(signed, hdr=nocolon) + b"--b1--\r\n")
    for n, rep in (("b64-inserted-signed", False), ("b64-replaced-signed", True)):
        c[n] = (head(n) + text_part() + pdf_part(signed, body=spoil_b64(signed, rep)) +
                b"--b1--\r\n")
    c["b64-replaced-unsigned"] = (head("b64-replaced-unsigned") + text_part() +
                                  pdf_part(plain, body=spoil_b64(plain, True)) + b"--b1--\r\n")
    return c


def cases_limits(plain):
    """Parts, depth and size over the limits."""
    c = {}
    tiny = b"--b1\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    c["parts-10000"] = head("parts-10000") + tiny * 9999 + pdf_part(plain) + b"--b1--\r\n"
    body = pdf_part(plain, b=b"L199")
    for i in range(199, -1, -1):
        inner = b"L%d" % i
        if i < 199:
            body = (b"--" + inner + b'\r\nContent-Type: multipart/mixed; boundary="L%d"\r\n\r\n'
                    % (i + 1) + body)
        body += b"--" + inner + b"--\r\n"
    c["depth-multipart-200"] = head("depth-multipart-200", ctype=b'multipart/mixed; '
                                    b'boundary="L0"') + body
    inner = head("depth-rfc822-inner") + text_part() + pdf_part(plain) + b"--b1--\r\n"
    for i in range(199):
        inner = (b"From: " + FROM + b"\r\nSubject: lop %d\r\nMIME-Version: 1.0\r\n"
                 b"Content-Type: message/rfc822\r\n\r\n" % i + inner)
    c["depth-rfc822-200"] = head("depth-rfc822-200", ctype=b"message/rfc822") + inner
    return c


def cases_body(signed, plain):
    """Empty body, bare CR line ends, NUL bytes, long header lines."""
    c = {}
    c["empty-body"] = head("empty-body")
    cr = (head("cr-only-unsigned") + text_part() + pdf_part(plain) +
          b"--b1--\r\n").split(b"\r\n\r\n", 1)
    c["cr-only-unsigned"] = cr[0] + b"\r\n\r\n" + cr[1].replace(b"\r\n", b"\r")
    c["nul-unsigned"] = (head("nul-unsigned") + text_part(text=b"co\0byte\0NUL\0\0") +
                         pdf_part(plain) + b"\0\0\r\n--b1--\r\n")
    c["long-subject-60k-signed"] = simple("long-subject-60k-signed", signed,
                                          subject=b"Cong van " + b"x" * UNDER)
    c["long-subject-100k-signed"] = simple("long-subject-100k-signed", signed,
                                           subject=b"Cong van " + b"x" * LONG)
    c["long-junk-100k-unsigned"] = simple("long-junk-100k-unsigned", plain,
                                          extra=[b"X-Junk: " + b"j" * LONG])
    return c


def big_message(out, plain):
    """The 60 MB attachment, written straight to its file."""
    blob = (plain + os.urandom(1 << 20))[: 1 << 20]
    with open(os.path.join(out, "big-60m.eml"), "wb") as f:
        f.write(head("big-60m") + text_part())
        f.write(b'--b1\r\nContent-Type: application/pdf; name="lon.pdf"\r\n'
                b"Content-Transfer-Encoding: base64\r\n"
                b'Content-Disposition: attachment; filename="lon.pdf"\r\n\r\n')
        f.write(b64(blob * (BIG >> 20)))
        f.write(b"--b1--\r\n")


def gen(fixtures, out):
    signed = open(os.path.join(fixtures, "pdf", "pdfsig-org.pdf"), "rb").read()
    plain = open(os.path.join(fixtures, "pdf", "plain.pdf"), "rb").read()
    os.makedirs(out, exist_ok=True)
    c = cases_headers(signed, plain)
    c.update(cases_mime(signed, plain))
    c.update(cases_limits(plain))
    c.update(cases_body(signed, plain))
    for name, data in c.items():
        with open(os.path.join(out, name + ".eml"), "wb") as f:
            f.write(data)
    body = c["nul-unsigned"].split(b"\r\n\r\n", 1)[1]
    with open(os.path.join(out, "nul-unsigned.body"), "wb") as f:
        f.write(body)
    big_message(out, plain)


# ---------------------------------------------------------------- client

SMFIP_NR_HDR, SMFIP_NR_BODY, SMFIP_HDR_LEADSPC = 0x80, 0x80000, 0x100000
SMFIP_NOHELO, SMFIP_NR_CONN, SMFIP_NR_MAIL, SMFIP_NR_RCPT = 0x2, 0x1000, 0x4000, 0x8000
SMFIP_NR_EOH = 0x40000
FINAL = {b"c": "continue", b"a": "accept", b"r": "reject", b"t": "tempfail",
         b"d": "discard"}


class Closed(Exception):
    pass


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise Closed("connection closed by the milter")
        data += chunk
    return data


def put(s, cmd, data=b""):
    try:
        s.sendall(struct.pack(">I", len(data) + 1) + cmd + data)
    except OSError as e:
        raise Closed("write failed: %s" % e.strerror)


def get(s):
    """One packet from the milter: (command byte, data)."""
    n = struct.unpack(">I", recv_exact(s, 4))[0]
    if n < 1 or n > (1 << 24):
        raise Closed("bad packet length %d" % n)
    data = recv_exact(s, n)
    return data[:1], data[1:]


def step(s, cmd, data, opts, no_reply_bit):
    """Send one command; read its reply unless the milter asked for none.
    Returns the reply command, or None."""
    put(s, cmd, data)
    if opts & no_reply_bit:
        return None
    return get(s)[0]


def split_message(path):
    raw = open(path, "rb").read()
    hdr, _, body = raw.partition(b"\r\n\r\n")
    fields = []
    for line in hdr.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1] += b"\r\n" + line
        elif line:
            name, _, value = line.partition(b":")
            fields.append([name, value[1:] if value[:1] == b" " else value])
    return fields, body


def envelope(s, qid, opts):
    """Connect, MAIL and RCPT; returns a final answer if one came early."""
    for cmd, data, bit in ((b"C", b"client.example\0" + b"4" + struct.pack(">H", 25) +
                            b"192.0.2.10\0", SMFIP_NR_CONN),
                           (b"M", b"<" + FROM + b">\0", SMFIP_NR_MAIL),
                           (b"R", b"<" + TO + b">\0", SMFIP_NR_RCPT)):
        if cmd == b"M":
            put(s, b"D", b"Mi\0" + qid.encode() + b"\0")
        r = step(s, cmd, data, opts, bit)
        if r not in (None, b"c"):
            return FINAL.get(r, "reply " + r.decode("latin-1"))
    return None


def transaction(s, path, qid):
    """One message through an open connection; returns the final answer."""
    put(s, b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))
    cmd, data = get(s)
    if cmd != b"O":
        return "negotiation refused (%r)" % cmd
    opts = struct.unpack(">III", data[:12])[2]
    early = envelope(s, qid, opts)
    if early:
        return early
    fields, body = split_message(path)
    lead = b" " if opts & SMFIP_HDR_LEADSPC else b""
    for name, value in fields:
        r = step(s, b"L", name + b"\0" + lead + value + b"\0", opts, SMFIP_NR_HDR)
        if r not in (None, b"c"):
            return FINAL.get(r, "header reply %r" % r)
    r = step(s, b"N", b"", opts, SMFIP_NR_EOH)
    if r not in (None, b"c"):
        return FINAL.get(r, "eoh reply %r" % r)
    for i in range(0, len(body), 65535):
        r = step(s, b"B", body[i:i + 65535], opts, SMFIP_NR_BODY)
        if r not in (None, b"c"):
            return FINAL.get(r, "body reply %r" % r)
    put(s, b"E")
    while True:
        cmd, data = get(s)
        if cmd == b"y":
            return "reply " + data.rstrip(b"\0").decode("latin-1").replace("\r\n", " | ")
        if cmd in FINAL:
            return FINAL[cmd]


def send(sock, path, qid, timeout):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        answer = transaction(s, path, qid)
        put(s, b"Q")
    except (Closed, OSError) as e:
        print("closed: %s" % e)
        return 1
    finally:
        s.close()
    print(answer)
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "gen":
        gen(argv[2], argv[3])
        return 0
    if len(argv) in (5, 6) and argv[1] == "send":
        return send(argv[2], argv[3], argv[4], float(argv[5]) if len(argv) == 6 else 30)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
