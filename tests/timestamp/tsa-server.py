#!/usr/bin/env python3
# tsa-server.py PKI PORTFILE -- a tiny RFC 3161 time-stamping authority for
# the tests: an HTTP server on 127.0.0.1 (a free port, written to PORTFILE)
# that answers each POSTed TimeStampReq with `openssl ts -reply` over the
# test PKI's TSA (PKI/tsa.cnf).  The path chooses a misbehaviour:
#   /            a good answer
#   /slow        the good answer after 5 seconds (a slow TSA)
#   /big         200 KB of zeros (an answer too large)
#   /error       HTTP 500
#   /rejection   a TimeStampResp with status rejection (2)
#   /other       a good answer to another request (wrong nonce and imprint)
#   /garbage     bytes that are no TimeStampResp
# Test tooling only; loopback only.
import http.server
import os
import subprocess
import sys
import tempfile
import time

PKI, PORTFILE = sys.argv[1], sys.argv[2]


def reply(query):
    """DER TimeStampResp from openssl ts -reply for the DER QUERY."""
    with tempfile.TemporaryDirectory() as td:
        q, r = os.path.join(td, "q.tsq"), os.path.join(td, "r.tsr")
        with open(q, "wb") as f:
            f.write(query)
        subprocess.run(["openssl", "ts", "-reply", "-config", os.path.join(PKI, "tsa.cnf"),
                        "-queryfile", q, "-out", r], check=True, capture_output=True)
        with open(r, "rb") as f:
            return f.read()


def other_query():
    """A TimeStampReq of our own (another imprint, another nonce)."""
    r = subprocess.run(["openssl", "ts", "-query", "-digest", "11" * 32, "-sha256", "-cert"],
                       check=True, capture_output=True)
    return r.stdout


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, body, ctype="application/timestamp-reply"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        query = self.rfile.read(n) if 0 < n < 100000 else b""
        ok_type = self.headers.get("Content-Type") == "application/timestamp-query"
        if self.path == "/error" or not query or not ok_type:
            return self.answer(500, b"no")
        if self.path == "/big":
            return self.answer(200, b"\0" * 200000)
        if self.path == "/rejection":
            return self.answer(200, bytes([0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02]))
        if self.path == "/garbage":
            return self.answer(200, b"0\x82garbage")
        if self.path == "/slow":
            time.sleep(5)
        try:
            body = reply(other_query() if self.path == "/other" else query)
        except subprocess.CalledProcessError:
            return self.answer(500, b"openssl ts failed")
        self.answer(200, body)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
