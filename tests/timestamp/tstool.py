#!/usr/bin/env python3
# tstool.py -- the signature time-stamp inside the last signature of a PDF,
# read with a minimal DER walker (test tooling, no ASN.1 library):
#   tstool.py extract PDF TOKEN.der SIGVALUE.bin   the token and the
#       signature value it must cover (for openssl ts -verify -data)
#   tstool.py swap PDF DONOR.pdf OUT.pdf           PDF with its token replaced
#       by DONOR's (same length): a time-stamp over another imprint
import re
import sys

TS_OID = bytes.fromhex("060b2a864886f70d010910020e")   # id-aa-signatureTimeStampToken


def tlv(b, i):
    """(tag, start of contents, end) of the TLV at i."""
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, i, i + n


def children(b, start, end):
    out, i = [], start
    while i < end:
        t, c, e = tlv(b, i)
        out.append((t, i, c, e))
        i = e
    return out


def last_contents(pdf):
    """(offset of the hex digits, DER) of the last signature's /Contents."""
    m = list(re.finditer(rb"/Contents\s*<([0-9A-Fa-f]+)>", pdf))[-1]
    return m.start(1), bytes.fromhex(m.group(1).decode())


def locate(der):
    """(token start, token end, signature value start, end) in DER."""
    _, c, e = tlv(der, 0)                        # ContentInfo
    kids = children(der, c, e)
    _, c, e = tlv(der, kids[1][2])               # [0] -> SignedData
    sd = children(der, c, e)
    sis = [k for k in sd if k[0] == 0x31][-1]    # signerInfos SET
    si = children(der, sis[2], sis[3])[0]
    fields = children(der, si[2], si[3])
    unsigned = [f for f in fields if f[0] == 0xa1][0]
    sigval = [f for f in fields if f[0] == 0x04][-1]
    for a in children(der, unsigned[2], unsigned[3]):
        oid, vals = children(der, a[2], a[3])
        if der[oid[1]:oid[3]] == TS_OID:
            tok = children(der, vals[2], vals[3])[0]
            return tok[1], tok[3], sigval[2], sigval[3]
    sys.exit("tstool.py: no signature time-stamp")


def main():
    pdf = open(sys.argv[2], "rb").read()
    at, der = last_contents(pdf)
    ts, te, ss, se = locate(der)
    if sys.argv[1] == "extract":
        open(sys.argv[3], "wb").write(der[ts:te])
        open(sys.argv[4], "wb").write(der[ss:se])
    elif sys.argv[1] == "swap":
        donor = open(sys.argv[3], "rb").read()
        _, dder = last_contents(donor)
        dts, dte, _, _ = locate(dder)
        if dte - dts != te - ts:
            sys.exit("tstool.py: tokens differ in length")
        hexed = dder[dts:dte].hex().upper().encode()
        pos = at + 2 * ts
        out = pdf[:pos] + hexed + pdf[pos + len(hexed):]
        open(sys.argv[4], "wb").write(out)
    else:
        sys.exit("usage: tstool.py extract|swap ...")


main()
