#!/usr/bin/env python3
"""mkmsg.py - build the message files that bench/mailpath/run.sh sends.

    mkmsg.py plain OUT SIZE        text/plain message of about SIZE bytes
    mkmsg.py pdf OUT PDF           multipart/mixed: a short text part and PDF
                                   attached as application/pdf, base64

Both have From: vanthu@sotttt.demo.gov.vn and To: tiepnhan@ubnd.demo.gov.vn,
the addresses the benchmark also uses in the envelope, so kyso-milter's
EnforceDomains and OpenDKIM's Domain match them. Lines end in LF: smtp-source
-F turns each line end into CRLF and dot-stuffs.

It must never change the PDF bytes (the signature would no longer verify)
and never write anywhere but OUT. Standard library only. Exit 0 on success,
1 on an I/O error, 64 on a usage error.
"""

import sys
from email.message import EmailMessage
from email.policy import SMTP

FROM = "vanthu@sotttt.demo.gov.vn"
TO = "tiepnhan@ubnd.demo.gov.vn"
LINE = ("Kinh gui Van phong UBND tinh: So Thong tin va Truyen thong xin gui "
        "ke hoach thang.\n")


def base_message(subject):
    """Return an EmailMessage with the fixed benchmark headers. Never fails."""
    m = EmailMessage(policy=SMTP.clone(linesep="\n"))
    m["From"] = FROM
    m["To"] = TO
    m["Subject"] = subject
    m["Date"] = "Mon, 23 Nov 2026 09:00:00 +0700"
    m["Message-ID"] = "<bench-mailpath@sotttt.demo.gov.vn>"
    return m


def build_plain(size):
    """Return the bytes of a text/plain message of about size bytes."""
    m = base_message("Ke hoach thang (bench plain)")
    head = len(bytes(m)) + 80
    body = LINE * max(1, (size - head) // len(LINE))
    m.set_content(body, cte="7bit")
    return bytes(m)


def build_pdf(pdf_path):
    """Return the bytes of a message carrying pdf_path as a base64 attachment.
    Raises OSError when the PDF cannot be read."""
    with open(pdf_path, "rb") as f:
        data = f.read()
    m = base_message("Cong van da ky so (bench pdf)")
    m.set_content(LINE * 3, cte="7bit")
    m.add_attachment(data, maintype="application", subtype="pdf",
                     filename="cong-van-so-123.pdf")
    return bytes(m)


def main(argv):
    """Parse argv, write the message; return the exit status."""
    if len(argv) != 4 or argv[1] not in ("plain", "pdf"):
        sys.stderr.write("usage: mkmsg.py plain OUT SIZE | mkmsg.py pdf OUT PDF\n")
        return 64
    kind, out, arg = argv[1:]
    try:
        data = build_plain(int(arg)) if kind == "plain" else build_pdf(arg)
        with open(out, "wb") as f:
            f.write(data)
    except (OSError, ValueError) as e:
        sys.stderr.write("mkmsg.py: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
