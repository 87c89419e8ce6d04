#!/usr/bin/env python3
"""gen-records.py DIR [N] - N decision records (default 1,000,000) into the
file store DIR (DIR/decisions.jsonl, replaced), for bench/store/run.sh.

The records have the keys of lib/decision.c and look like a province's
traffic: about 1 KB each, 300 agencies' domains with their own senders,
one to three recipients, a realistic mix of reasons and actions (some in
monitor mode), zero to three PDF documents with one or two signatures,
spread evenly over the last 190 days up to a minute ago, in time order.
A rare sender (rare.sender@hiem.example.vn) appears exactly 3 times.
What run.sh looks for goes to DIR/bench-meta.json: the reference id of the
record in the middle, the rare sender, the count of records in the last
hour.  Deterministic for a given N and start time (random seed 1).
"""
import json
import os
import random
import sys
import time

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REF_EPOCH_MS = 1704067200000
RARE = "rare.sender@hiem.example.vn"
PROVINCES = ["khanhhoa", "dongthap", "hanoi", "hochiminh", "danang", "cantho", "hue",
             "quangninh", "nghean", "lamdong"]
AGENCIES = ["ubnd", "sotc", "stttt", "sonv", "soyt", "sogd", "sokhdt", "sotnmt", "sogtvt",
            "vpubnd", "hdnd", "socongthuong", "sotuphap", "sovhttdl", "sonnptnt"]
PEOPLE = ["vanthu", "nguyen.van.an", "tran.thi.binh", "le.van.cuong", "pham.thi.dung",
          "hoang.van.em", "vu.thi.giang", "dang.van.hung", "bui.thi.lan", "do.van.minh",
          "ho.thi.nga", "ngo.van.phuc", "duong.thi.quynh", "ly.van.son", "giamdoc"]
REASONS = (["ok"] * 60 + ["unsigned"] * 12 + ["cert_expired"] * 5 + ["untrusted_chain"] * 5
           + ["missing_org_signature"] * 6 + ["revocation_unknown"] * 3
           + ["digest_mismatch"] * 2 + ["modified_after_signing"] * 2 + ["bad_signature"]
           + ["weak_algorithm"] + ["cert_revoked"] + ["limit_exceeded"] + ["malformed"])
ETSI = {"ok": "TOTAL_PASSED", "cert_expired": "OUT_OF_BOUNDS_NO_POE", "unsigned": "",
        "untrusted_chain": "NO_CERTIFICATE_CHAIN_FOUND", "revocation_unknown": "TRY_LATER",
        "digest_mismatch": "HASH_FAILURE", "bad_signature": "SIG_CRYPTO_FAILURE"}
ISSUER = "CN=Vietnam Government Public CA,O=Ban Co yeu Chinh phu,C=VN"
TITLES = ["Công văn", "Quyết định", "Tờ trình", "Báo cáo", "Kế hoạch", "Thông báo", "Giấy mời"]


def make_ref(t_ms, tag):
    v = ((t_ms - REF_EPOCH_MS) & ((1 << 40) - 1)) << 20 | (tag & 0xFFFFF)
    return "KS-" + "".join(CROCKFORD[(v >> (5 * (11 - k))) & 31] for k in range(12))


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    rnd = random.Random(1)
    domains = ["%s.%s.gov.vn" % (a, p) for p in PROVINCES for a in AGENCIES]
    domains += ["%s.gov.vn" % p for p in PROVINCES] + ["congty%d.vn" % i for i in range(140)]
    now_ms = int(time.time() * 1000) - 60000
    span = 190 * 86400000
    step = span / n
    rare_at = {n // 5, n // 2 + 17, (4 * n) // 5}
    tz = time.strftime("%z")
    tzs = tz[:3] + ":" + tz[3:]
    base_local = {}
    meta = {"n": n, "rare_sender": RARE, "last_hour": 0}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "decisions.jsonl"), "w", encoding="utf-8") as f:
        for i in range(n):
            t = int(now_ms - span + i * step)
            sec = t // 1000
            day = sec - sec % 60
            if day not in base_local:
                base_local.clear()
                base_local[day] = time.strftime("%Y-%m-%dT%H:%M:", time.localtime(day))
            ts = "%s%02d.%03d%s" % (base_local[day], sec % 60, t % 1000, tzs)
            dom = rnd.choice(domains)
            sender = RARE if i in rare_at else "%s@%s" % (rnd.choice(PEOPLE), dom)
            rcpts = ["%s@%s" % (rnd.choice(PEOPLE), rnd.choice(domains))
                     for _ in range(rnd.choice((1, 1, 1, 2, 3)))]
            reason = rnd.choice(REASONS)
            monitor = rnd.random() < 0.1
            refused = "tempfail" if reason == "revocation_unknown" else "reject"
            action = "accept" if reason == "ok" or monitor else refused
            ref = make_ref(t, i)
            docs = []
            ndocs = rnd.choice((0, 1, 1, 1)) if reason == "ok" else rnd.choice((1, 1, 1, 2))
            for k in range(ndocs):
                dr = reason if k == 0 else "ok"
                sigs = [{"verdict": "valid" if dr == "ok" else "invalid", "reason": dr,
                         "etsi": ETSI.get(dr, "FORMAT_FAILURE"), "subfilter": "ETSI.CAdES.detached",
                         "field": "Signature%d" % (s + 1),
                         "signer": {"subject": "CN=%s,O=%s,L=%s,C=VN" % (
                             rnd.choice(PEOPLE).replace(".", " ").title(),
                             dom.split(".")[0].upper(), dom.split(".")[1].title()),
                             "issuer": ISSUER,
                             "serial": "%016X" % rnd.getrandbits(64), "email": None,
                             "class": "organisation" if s else "personal"},
                         "signing_time": ts, "coverage": "whole", "detail": None}
                        for s in range(0 if dr == "unsigned" else rnd.choice((1, 1, 1, 2)))]
                docs.append({"name": "%s %d-%s.pdf" % (rnd.choice(TITLES), rnd.randrange(1, 999),
                                                        dom.split(".")[0].upper()),
                             "kind": "pdf", "verdict": "valid" if dr == "ok" else "invalid",
                             "reason": dr, "detail": None, "signatures": sigs, "attachments": [],
                             "counted": True, "action": "accept" if dr == "ok" else refused})
            rec = {"time": ts, "node": "mx%d" % (1 + i % 2),
                   "queue_id": "%010X" % rnd.getrandbits(40),
                   "message_id": "<%x.%d@%s>" % (t, i, dom),
                   "client": {"addr": "10.%d.%d.%d" % (i % 200, i % 250, i % 240),
                              "name": "mail.%s" % dom},
                   "auth_user": None, "env_from": sender, "hdr_from": sender,
                   "subject": "%s số %d/%s" % (rnd.choice(TITLES), rnd.randrange(1, 9999), dom),
                   "rcpts": rcpts, "flow": "sender domain %s watched" % dom.split(".", 1)[1],
                   "mode": "monitor" if monitor else "enforce", "action": action,
                   "would": (refused if reason != "ok" else "accept") if monitor else None,
                   "reason": reason, "detail": None, "ref": ref,
                   "smtp_reply": None if action == "accept" else
                   "550 5.7.1 Van ban chua hop le, ky lai va gui lai | Document refused "
                   "(%s), ref %s" % (reason, ref),
                   "notice": {"sent": action == "reject", "why": None},
                   "documents": docs, "smime": None, "applied": [],
                   "elapsed_ms": rnd.randrange(3, 400)}
            f.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")))
            f.write("\n")
            if i == n // 2:
                meta["middle_ref"] = ref
            if t >= now_ms + 60000 - 3600000:
                meta["last_hour"] += 1
    with open(os.path.join(out, "bench-meta.json"), "w") as f:
        json.dump(meta, f)


if __name__ == "__main__":
    main()
