#!/usr/bin/env python3
# revserver.py DIR PORT - the test's HTTP side of revocation, on 127.0.0.1
# only: CRLs and OCSP answers chosen by mode files the test writes, so that
# one server plays every good and bad case.  Test tooling only.
#
#   GET  /NAME.crl  DIR/crl-mode says what /sub.crl is: "fresh" (DIR/sub.crl),
#                   "expired" (DIR/sub-expired.crl), "wrongkey"
#                   (DIR/sub-wrongkey.crl), "big" (100 MB with Content-Length),
#                   "bigchunked" (100 MB, chunked), "redirect" (302 to
#                   localhost: another host), "samehost" (302 to /sub.crl?x),
#                   "404"; other names are served from DIR as they are.
#   POST /ocsp      DIR/ocsp-mode: "forward PORT" (to openssl ocsp on PORT),
#                   "slow SECONDS PORT", "garbage", "huge", "file NAME"
#                   (the DER answer DIR/NAME, whatever was asked).
# Writes DIR/revserver.ready once listening; each request is appended to
# DIR/requests.log.
import http.server
import os
import socketserver
import sys
import time
import urllib.request

DIR, PORT = sys.argv[1], int(sys.argv[2])
BIG = 100 * 1024 * 1024


def mode(name, default):
    try:
        with open(os.path.join(DIR, name)) as f:
            return f.read().split()
    except OSError:
        return default.split()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body, ctype="application/octet-stream", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def stream_big(self, chunked):
        self.send_response(200)
        self.send_header("Content-Type", "application/pkix-crl")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(BIG))
        self.end_headers()
        block = b"\x30" * 65536
        try:
            for _ in range(BIG // len(block)):
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
                else:
                    self.wfile.write(block)
        except OSError:
            pass                    # the client hung up: what we want
        self.close_connection = True

    def file(self, name):
        with open(os.path.join(DIR, name), "rb") as f:
            return f.read()

    def note(self):
        with open(os.path.join(DIR, "requests.log"), "a") as f:
            f.write("%s %s\n" % (self.command, self.path))

    def do_GET(self):
        self.note()
        name = self.path.lstrip("/").split("?")[0]
        if name == "sub.crl":
            m = mode("crl-mode", "fresh")[0]
            if m in ("big", "bigchunked"):
                return self.stream_big(m == "bigchunked")
            if m == "redirect":
                return self.send(302, b"", extra={"Location": "http://localhost:%d/sub.crl" % PORT})
            if m == "samehost":
                if "?" not in self.path:
                    return self.send(302, b"", extra={"Location": "/sub.crl?again"})
                m = "fresh"
            if m == "404":
                return self.send(404, b"no such CRL")
            name = {"fresh": "sub.crl", "expired": "sub-expired.crl",
                    "wrongkey": "sub-wrongkey.crl"}.get(m, "sub.crl")
        try:
            self.send(200, self.file(os.path.basename(name)), "application/pkix-crl")
        except OSError:
            self.send(404, b"no such file")

    def do_POST(self):
        self.note()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        m = mode("ocsp-mode", "garbage")
        if m[0] == "slow":
            time.sleep(float(m[1]))
            m = ["forward", m[2]]
        if m[0] == "forward":
            req = urllib.request.Request("http://127.0.0.1:%s/" % m[1], data=body,
                                         headers={"Content-Type": "application/ocsp-request"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return self.send(200, r.read(), "application/ocsp-response")
            except OSError:
                return self.send(502, b"responder down")
        if m[0] == "garbage":
            return self.send(200, os.urandom(700), "application/ocsp-response")
        if m[0] == "huge":
            return self.send(200, b"\x30\x84" + os.urandom(10 * 1024 * 1024))
        if m[0] == "file":
            return self.send(200, self.file(m[1]), "application/ocsp-response")
        self.send(500, b"bad mode")


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = S(("127.0.0.1", PORT), H)
open(os.path.join(DIR, "revserver.ready"), "w").close()
srv.serve_forever()
