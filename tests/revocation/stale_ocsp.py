#!/usr/bin/env python3
# stale_ocsp.py CERT ISSUER KEY OUT - a "good" OCSP answer about CERT signed
# by ISSUER's KEY whose thisUpdate and nextUpdate are two and one days old:
# a stale answer, which openssl ocsp cannot make.  Test tooling only.
import datetime
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

cert, issuer, key, out = sys.argv[1:5]
load = lambda p: x509.load_pem_x509_certificate(open(p, "rb").read())
k = serialization.load_pem_private_key(open(key, "rb").read(), None)
now = datetime.datetime.now(datetime.timezone.utc)
b = ocsp.OCSPResponseBuilder().add_response(
    cert=load(cert), issuer=load(issuer), algorithm=hashes.SHA1(),
    cert_status=ocsp.OCSPCertStatus.GOOD, this_update=now - datetime.timedelta(days=2),
    next_update=now - datetime.timedelta(days=1), revocation_time=None,
    revocation_reason=None).responder_id(ocsp.OCSPResponderEncoding.HASH, load(issuer))
open(out, "wb").write(b.sign(k, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
