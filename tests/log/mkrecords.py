#!/usr/bin/env python3
"""mkrecords.py DIR - decision records for tests/log/run-log.sh.

Writes a file store in DIR/store: decisions.jsonl.2.gz (oldest records,
compressed as logrotate leaves them), decisions.jsonl.1 and decisions.jsonl
(with two damaged lines), all with the keys of lib/decision.c's records.
Then computes, from its own list of records and not from kyso's output,
what each `kyso log` filter must find, into DIR/expect.json, and the valid
lines in store order into DIR/valid.jsonl (for the --json round trip).

Times are in the local zone (set TZ), relative to now; no record falls
within 15 minutes of now - 2 days, so `--since 2d` has one right answer.
"""
import gzip
import json
import os
import random
import sys
import time

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REF_EPOCH_MS = 1704067200000
N_GZ, N_OLD, N_CUR = 100, 150, 250

SENDERS = ["vanthu@sotc.khanhhoa.gov.vn", "nguyen.van.a@ubnd.dongthap.gov.vn",
           "tran.thi.b@stttt.khanhhoa.gov.vn", "lanhdao@sonv.dongthap.gov.vn",
           "hoang@example.com", "ketoan@congty.vn"]
RARE_SENDER = "Hiem.Co@XaXoi.vn"            # mixed case on purpose
RCPTS = ["vanthu@ubnd.khanhhoa.gov.vn", "giamdoc@sotc.khanhhoa.gov.vn",
         "phongtccb@dongthap.gov.vn", "hopthu@khanhhoa.gov.vn",
         "info@notkhanhhoa.gov.vn", "ban@partner.vn"]
REASONS = ["ok", "ok", "ok", "unsigned", "cert_expired", "untrusted_chain",
           "digest_mismatch", "revocation_unknown", "missing_org_signature"]
DOC_NAMES = ["Công văn 123-UBND.pdf", "Quyết định số 45.pdf", "bao_cao_quy_3.pdf",
             "Kế hoạch, tờ trình \"gấp\".pdf", "phu-luc.pdf"]
VERDICT = {"ok": "valid", "unsigned": "unsigned", "revocation_unknown": "indeterminate"}


def make_ref(t_ms, tag):
    """The reference id decision.c would make at t_ms (40 bits of time)."""
    v = ((t_ms - REF_EPOCH_MS) & ((1 << 40) - 1)) << 20 | (tag & 0xFFFFF)
    return "KS-" + "".join(CROCKFORD[(v >> (5 * (11 - k))) & 31] for k in range(12))


def iso_local(t_ms):
    """2026-11-30T10:42:43.123+07:00, as decision.c writes the time."""
    tm = time.localtime(t_ms // 1000)
    off = tm.tm_gmtoff // 60
    sign = "-" if off < 0 else "+"
    off = abs(off)
    return "%s.%03d%s%02d:%02d" % (time.strftime("%Y-%m-%dT%H:%M:%S", tm), t_ms % 1000,
                                   sign, off // 60, off % 60)


def signature(rnd, reason, i):
    return {"verdict": VERDICT.get(reason, "invalid"), "reason": reason,
            "etsi": "OUT_OF_BOUNDS_NO_POE" if reason == "cert_expired" else "TOTAL_PASSED",
            "subfilter": "ETSI.CAdES.detached", "field": "Signature%d" % (i + 1),
            "signer": {"subject": "CN=Nguyễn Văn A %d,O=Sở Tài chính,C=VN" % rnd.randrange(100),
                       "issuer": "CN=Vietnam Government Public CA,O=Ban Cơ yếu Chính phủ,C=VN",
                       "serial": "%016X" % rnd.getrandbits(64), "email": None,
                       "class": rnd.choice(["personal", "organisation"])},
            "signing_time": "2026-11-20T08:00:00+07:00", "coverage": "whole",
            "detail": None}


def document(rnd, reason, name):
    nsig = 0 if reason == "unsigned" else rnd.randrange(1, 3)
    return {"name": name, "kind": "pdf", "verdict": VERDICT.get(reason, "invalid"),
            "reason": reason, "detail": None,
            "signatures": [signature(rnd, reason, i) for i in range(nsig)],
            "attachments": [], "counted": True, "action": "accept" if reason == "ok" else "reject"}


def record(rnd, t_ms, i):
    reason = rnd.choice(REASONS)
    monitor = i % 7 == 0
    refused = "tempfail" if reason == "revocation_unknown" else "reject"
    action = "accept" if reason == "ok" or monitor else refused
    would = (refused if reason != "ok" else "accept") if monitor else None
    sender = RARE_SENDER if i % 97 == 13 else rnd.choice(SENDERS)
    rcpts = rnd.sample(RCPTS, rnd.randrange(1, 4))
    docs = [document(rnd, reason if k == 0 else "ok", rnd.choice(DOC_NAMES))
            for k in range(rnd.randrange(0 if reason == "ok" else 1, 3))]
    ref = make_ref(t_ms, i)
    reply = None if action == "accept" else (
        "550 5.7.1 Van ban chua hop le (%s) | Document not valid, ref %s" % (reason, ref))
    return {"time": iso_local(t_ms), "node": "mx%d" % (1 + i % 2), "queue_id": "Q%05X" % i,
            "message_id": "<%d@test>" % i,
            "client": {"addr": "192.0.2.%d" % (i % 250), "name": "mail.example.vn"},
            "auth_user": None, "env_from": sender, "hdr_from": sender,
            "subject": "Công văn số %d" % i, "rcpts": rcpts, "flow": "sender domain watched",
            "mode": "monitor" if monitor else "enforce", "action": action, "would": would,
            "reason": reason, "detail": None, "ref": ref, "smtp_reply": reply,
            "notice": {"sent": action == "reject" and i % 3 != 0,
                       "why": "NoticeRateLimit reached for this sender"
                       if action == "reject" and i % 3 == 0 else None},
            "documents": docs, "smime": None, "applied": [], "elapsed_ms": rnd.randrange(5, 900)}


def times(rnd, now_ms, n):
    """N distinct sorted times in the last 20 days, none near now - 2 days."""
    band = (now_ms - 2 * 86400000 - 900000, now_ms - 2 * 86400000 + 900000)
    out = set()
    while len(out) < n:
        t = now_ms - rnd.randrange(300000, 20 * 86400000)
        if not band[0] <= t <= band[1]:
            out.add(t)
    return sorted(out)


def domain_match(addr, dom):
    d = addr.rsplit("@", 1)[1].lower()
    return d == dom or d.endswith("." + dom)


def expectations(recs, now_ms, rnd):
    """What kyso log must find, computed here from the records."""
    def local_minute(t_ms):
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(t_ms // 1000))
    e = {"total": len(recs), "last50": [r["ref"] for r in recs[-50:]],
         "last300": [r["ref"] for r in recs[-300:]]}
    e["accept_last50"] = [r["ref"] for r in recs if "accept" in (r["action"], r["would"])][-50:]
    e["since_2d"] = sum(1 for r in recs if r["_t"] >= now_ms - 2 * 86400000)
    # absolute window: whole minutes, from the 120th record's minute to the 300th's
    lo, hi = local_minute(recs[120]["_t"]), local_minute(recs[300]["_t"])
    lo_ms = time.mktime(time.strptime(lo, "%Y-%m-%d %H:%M")) * 1000
    hi_ms = time.mktime(time.strptime(hi, "%Y-%m-%d %H:%M")) * 1000
    e["window"] = {"since": lo, "until": hi,
                   "count": sum(1 for r in recs if lo_ms <= r["_t"] < hi_ms)}
    e["rotated_until"] = {"until": local_minute(recs[N_GZ + N_OLD - 20]["_t"]),
                          "count": None}
    until_ms = time.mktime(time.strptime(e["rotated_until"]["until"], "%Y-%m-%d %H:%M")) * 1000
    e["rotated_until"]["count"] = sum(1 for r in recs if r["_t"] < until_ms)
    e["gz_count"] = N_GZ
    e["sender"] = {"arg": RARE_SENDER.lower(),
                   "count": sum(1 for r in recs if r["env_from"].lower() == RARE_SENDER.lower())}
    e["rcpt"] = {"arg": RCPTS[2], "count": sum(1 for r in recs if RCPTS[2] in r["rcpts"])}
    e["domain"] = {"arg": "khanhhoa.gov.vn",
                   "count": sum(1 for r in recs if domain_match(r["env_from"], "khanhhoa.gov.vn")
                                or any(domain_match(x, "khanhhoa.gov.vn") for x in r["rcpts"]))}
    e["action"] = {a: sum(1 for r in recs if a in (r["action"], r["would"]))
                   for a in ("accept", "reject", "tempfail", "quarantine")}
    e["reason"] = {"arg": "cert_expired",
                   "count": sum(1 for r in recs if r["reason"] == "cert_expired")}
    e["combined"] = {"count": sum(1 for r in recs if r["reason"] == "cert_expired"
                                  and "reject" in (r["action"], r["would"])
                                  and (domain_match(r["env_from"], "dongthap.gov.vn")
                                       or any(domain_match(x, "dongthap.gov.vn")
                                              for x in r["rcpts"])))}
    mid = recs[len(recs) // 2]
    e["ref"] = {"arg": mid["ref"].lower(), "ref": mid["ref"]}
    shown = next(r for r in reversed(recs[:N_GZ + 50]) if r["reason"] == "cert_expired"
                 and r["action"] == "reject" and r["documents"][0]["signatures"]
                 and not r["notice"]["sent"])
    sig = shown["documents"][0]["signatures"][0]
    e["show"] = {"ref": shown["ref"], "subject": sig["signer"]["subject"],
                 "issuer": sig["signer"]["issuer"], "serial": sig["signer"]["serial"],
                 "doc": shown["documents"][0]["name"], "smtp_reply": shown["smtp_reply"],
                 "notice_why": shown["notice"]["why"],
                 "vi": "Chứng thư số của người ký đã hết hạn.",
                 "en": "The signer's certificate has expired."}
    monitored = next(r for r in reversed(recs) if r["mode"] == "monitor" and r["would"] != "accept"
                     and len(r["rcpts"]) > 1)
    e["table"] = {"ref": monitored["ref"],
                  "time": time.strftime("%Y-%m-%d %H:%M:%S",
                                        time.localtime(monitored["_t"] // 1000)),
                  "node": monitored["node"], "sender": monitored["env_from"],
                  "rcpts": "%s +%d" % (monitored["rcpts"][0], len(monitored["rcpts"]) - 1),
                  "action": "accept (would %s)" % monitored["would"],
                  "reason": monitored["reason"],
                  "documents": ", ".join(d["name"] for d in monitored["documents"]) or "-"}
    quoted = next(r for r in reversed(recs) if any('"' in d["name"] for d in r["documents"]))
    e["csv"] = {"ref": quoted["ref"], "sender": quoted["env_from"],
                "recipients": ", ".join(quoted["rcpts"]),
                "documents": ", ".join(d["name"] for d in quoted["documents"])}
    e["new"] = record(rnd, now_ms - 1000, 999999)
    e["new"].pop("_t", None)
    return e


def main():
    out = sys.argv[1]
    store = os.path.join(out, "store")
    os.makedirs(store, exist_ok=True)
    rnd = random.Random(7)
    now_ms = int(time.time() * 1000)
    recs = []
    for i, t in enumerate(times(rnd, now_ms, N_GZ + N_OLD + N_CUR)):
        r = record(rnd, t, i)
        r["_t"] = t
        recs.append(r)
    lines = [json.dumps({k: v for k, v in r.items() if k != "_t"}, ensure_ascii=False,
                        separators=(",", ":")) for r in recs]
    gz, old, cur = lines[:N_GZ], lines[N_GZ:N_GZ + N_OLD], lines[N_GZ + N_OLD:]
    with gzip.open(os.path.join(store, "decisions.jsonl.2.gz"), "wt", encoding="utf-8") as f:
        f.write("\n".join(gz) + "\n")
    with open(os.path.join(store, "decisions.jsonl.1"), "w", encoding="utf-8") as f:
        f.write("\n".join(old) + "\n")
    with open(os.path.join(store, "decisions.jsonl"), "wb") as f:
        for k, line in enumerate(cur):
            f.write(line.encode("utf-8") + b"\n")
            if k == 60:
                f.write(line[:len(line) // 2].encode("utf-8") + b"\n")     # cut short
            if k == 120:
                f.write(b'{"time":"x","node":"\xff\xfe bad bytes"}\n')    # not UTF-8
    for name, last in (("decisions.jsonl.2.gz", N_GZ - 1), ("decisions.jsonl.1", N_GZ + N_OLD - 1)):
        t = recs[last]["_t"] / 1000 + 1
        os.utime(os.path.join(store, name), (t, t))
    with open(os.path.join(out, "valid.jsonl"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "expect.json"), "w", encoding="utf-8") as f:
        json.dump(expectations(recs, now_ms, rnd), f, ensure_ascii=False)


if __name__ == "__main__":
    main()
