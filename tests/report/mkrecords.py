#!/usr/bin/env python3
"""mkrecords.py DIR - decision records and expected numbers for run-report.sh.

Writes a file store in DIR/store: decisions.jsonl.1 (2024) and
decisions.jsonl (2025), a few thousand records with the keys of
lib/decision.c's records, from several gateways (nodes), for senders and
recipients in several domains (subdomains, upper case, a look-alike
domain, the null sender), in enforce, monitor and off mode, with counted
and uncounted documents, personal / organisation / unknown signer
certificates from a fixed pool, a reason code from a newer version, keys
this version does not know, signatures applied by the gateway, records on
the edges of the periods, a node name holding markup and a terminal
escape, and three damaged lines.

Then works out, from its own list of records and the rules of kyso(1)
"KYSO REPORT" (not from kyso's output), every number `kyso report` must
print for several (organisation, period) cases, into DIR/expect.json:
{"damaged": N, "cases": [{"name", "args", "org", "expect": {...}}]}.

Times are local to TZ=Asia/Ho_Chi_Minh (set here too).
"""
import json
import os
import random
import sys
import time

os.environ["TZ"] = "Asia/Ho_Chi_Minh"
time.tzset()

N_RECORDS = 4000
SEED = 15
ISSUERS = ["CN=Vietnam Government Public CA,O=Ban Cơ yếu Chính phủ,C=VN",
           "CN=VNPT-CA,O=VNPT Group,C=VN"]
KHANHHOA = ["vanthu@sotc.khanhhoa.gov.vn", "giamdoc@sotc.khanhhoa.gov.vn",
            "VanThu@UBND.KhanhHoa.gov.vn", "hopthu@khanhhoa.gov.vn"]
DONGTHAP = ["vanthu@stttt.dongthap.gov.vn", "lanhdao@dongthap.gov.vn"]
KONTUM = ["vanthu@kontum.gov.vn"]
OTHERS = ["info@notkhanhhoa.gov.vn", "ketoan@congty.vn", "ban@partner.vn"]
ADDRS = KHANHHOA + DONGTHAP + KONTUM + OTHERS
NODES = ["mx1.khanhhoa.gov.vn", "mx2.khanhhoa.gov.vn", "gw-dongthap"]
EVIL_NODE = 'gw<b>"x"\x1b[2J'      # markup and a terminal escape, from a record
# reason, weight, document action under enforce
REASONS = [("ok", 50, "accept"), ("unsigned", 8, "reject"), ("cert_expired", 5, "reject"),
           ("untrusted_chain", 4, "reject"), ("digest_mismatch", 4, "quarantine"),
           ("revocation_unknown", 4, "tempfail"), ("missing_org_signature", 4, "reject"),
           ("missing_personal_signature", 4, "accept"), ("quantum_broken", 1, "reject")]
VERDICT = {"ok": "valid", "unsigned": "unsigned", "revocation_unknown": "indeterminate"}
SEVERITY = {"accept": 0, "tempfail": 1, "quarantine": 2, "reject": 3}


def local_ms(y, mo, d, h=0, mi=0, s=0):
    return int(time.mktime((y, mo, d, h, mi, s, 0, 0, -1))) * 1000


def iso_local(t_ms):
    """2025-11-30T10:42:43.123+07:00, as decision.c writes the time."""
    tm = time.localtime(t_ms // 1000)
    off = tm.tm_gmtoff // 60
    sign = "-" if off < 0 else "+"
    off = abs(off)
    return "%s.%03d%s%02d:%02d" % (time.strftime("%Y-%m-%dT%H:%M:%S", tm), t_ms % 1000,
                                   sign, off // 60, off % 60)


def cert_pool(rnd):
    """The certificates of each sender: an organisation one per domain, two
    personal ones and one of no known class per address; one serial is
    issued by both CAs (two certificates).  Key "" is the null sender."""
    pool, by_domain = {}, {}
    for addr in ADDRS + [""]:
        dom = addr.rsplit("@", 1)[-1].lower()
        if dom not in by_domain:
            by_domain[dom] = ("%016X" % rnd.getrandbits(64), ISSUERS[0], "organisation")
        pool[addr] = [by_domain[dom]] + [("%016X" % rnd.getrandbits(64), ISSUERS[k % 2],
                                          "personal") for k in range(2)] \
            + [("%016X" % rnd.getrandbits(64), ISSUERS[1], "unknown")]
    twin = pool[KHANHHOA[0]][1]
    pool[KHANHHOA[1]][1] = (twin[0], ISSUERS[1] if twin[1] == ISSUERS[0] else ISSUERS[0],
                            "personal")
    return pool


def signature(rnd, certs, verdict, reason, cls=None):
    """A signature by one of CERTS (of class CLS); a failing one is now and
    then by a certificate seen nowhere else."""
    if verdict != "valid" and rnd.random() < 0.4:
        cert = ("%016X" % rnd.getrandbits(64), "CN=Untrusted CA,C=XX",
                rnd.choice(["personal", "organisation", "unknown"]))
    else:
        cert = rnd.choice([c for c in certs if cls is None or c[2] == cls])
    serial, issuer, klass = cert
    return {"verdict": verdict, "reason": reason, "etsi": "", "subfilter": "ETSI.CAdES.detached",
            "field": "Sig", "signer": {"subject": "CN=Người ký", "issuer": issuer,
                                       "serial": serial, "email": None, "class": klass},
            "signing_time": None, "coverage": "whole", "detail": None}


def signatures(rnd, certs, reason):
    """The signatures a document with REASON carries."""
    if reason == "unsigned":
        return []
    if reason == "ok":
        return [signature(rnd, certs, "valid", "ok") for _ in range(rnd.randrange(1, 4))]
    if reason == "missing_org_signature":
        return [signature(rnd, certs, "valid", "ok", "personal")]
    if reason == "missing_personal_signature":
        return [signature(rnd, certs, "valid", "ok", "organisation")]
    verdict = VERDICT.get(reason, "invalid")
    sigs = [signature(rnd, certs, verdict, reason)]
    if rnd.random() < 0.3:
        sigs.append(signature(rnd, certs, "valid", "ok"))
    return sigs


def document(rnd, certs):
    reason = rnd.choices([r[0] for r in REASONS], [r[1] for r in REASONS])[0]
    action = dict((r[0], r[2]) for r in REASONS)[reason]
    counted = rnd.random() < 0.9
    if not counted:
        action = "accept"
    return {"name": "Công văn %d.pdf" % rnd.randrange(1000), "kind": "pdf",
            "verdict": VERDICT.get(reason, "invalid"), "reason": reason, "detail": None,
            "signatures": signatures(rnd, certs, reason), "attachments": [],
            "counted": counted, "action": action}


def record(rnd, pool, t_ms, i):
    sender = "" if rnd.random() < 0.02 else rnd.choice(ADDRS)
    rcpts = rnd.sample([a for a in ADDRS if a != sender], rnd.randrange(1, 4))
    r = rnd.random()
    mode = "enforce" if r < 0.75 else "monitor" if r < 0.95 else "off"
    ndocs = 0 if mode == "off" else rnd.randrange(0, 4)
    docs = [document(rnd, pool[sender]) for _ in range(ndocs)]
    asked = max([d["action"] for d in docs if d["counted"]] or ["accept"],
                key=lambda a: SEVERITY[a])
    culprit = next((d["reason"] for d in docs if d["counted"] and d["action"] == asked
                    and asked != "accept"), "ok" if docs else "no_documents")
    rec = {"time": iso_local(t_ms), "node": NODES[rnd.randrange(3)], "queue_id": "Q%05X" % i,
           "message_id": "<%d@test>" % i, "client": {"addr": "192.0.2.1", "name": None},
           "auth_user": None, "env_from": sender, "hdr_from": sender or None,
           "subject": "Báo cáo %d" % i, "rcpts": rcpts, "flow": "watched", "mode": mode,
           "action": asked if mode == "enforce" else "accept",
           "would": asked if mode == "monitor" else None,
           "reason": None if mode == "off" else culprit, "detail": None,
           "ref": "KS-%012d" % i, "smtp_reply": None, "notice": {"sent": False, "why": None},
           "documents": docs, "smime": None, "applied": [], "elapsed_ms": 12}
    if sender.endswith("@sotc.khanhhoa.gov.vn") and t_ms >= local_ms(2024, 10, 1) \
            and rnd.random() < 0.7:
        rec["applied"] = ["organisation signature on %s" % d["name"] for d in docs[:2]] \
            or ["organisation signature"]
    if rnd.random() < 0.05:
        rec["x_future"] = {"version": 2, "values": [1, 2, 3]}
    rec["_t"] = t_ms
    return rec


def make_times(rnd):
    """Sorted times over 2024 and 2025, with records on the period edges."""
    lo, hi = local_ms(2024, 1, 1), local_ms(2026, 1, 1)
    out = set(rnd.randrange(lo, hi) for _ in range(N_RECORDS))
    for y, mo, d in ((2025, 1, 1), (2024, 8, 1), (2024, 3, 1), (2024, 6, 15), (2025, 2, 11)):
        out.add(local_ms(y, mo, d))             # first instant of a period or after one
        out.add(local_ms(y, mo, d) - 1)         # last millisecond before it
    return sorted(out)


# ---- the expected numbers, from the rules of kyso(1) "KYSO REPORT" --------

def in_org(addr, org):
    if org is None:
        return True
    if "@" not in addr:
        return False
    dom = addr.rsplit("@", 1)[1].lower().rstrip(".")
    return dom == org or dom.endswith("." + org)


def month_of(t_ms):
    return time.strftime("%Y-%m", time.localtime(t_ms // 1000))


def add_doc(e, d, sent, recv, accepted, monitor, month, certs):
    have = set()
    for s in d["signatures"]:
        sg = s["signer"]
        key = (sg["serial"].upper(), sg["issuer"])
        if key not in certs:
            certs[key] = [sg["class"], False]
            e["certs"][sg["class"]][0] += 1
        if s["verdict"] == "valid":
            have.add(sg["class"])
            if not certs[key][1]:
                certs[key][1] = True
                e["certs"][certs[key][0]][1] += 1
    both = 1 if {"personal", "organisation"} <= have else 0
    if d["verdict"] == "valid":
        if accepted:
            for side, on in (("sent", sent), ("received", recv), ("all", True)):
                if on:
                    e["docs"][side][0] += 1
                    e["docs"][side][1] += both
                    month[side] += 1
        return
    row = e["reasons"].setdefault(d["reason"], [0, 0, 0])
    if d["action"] == "accept":
        row[2] += 1
    elif monitor:
        row[1] += 1
    else:
        row[0] += 1
        month["refused"] += 1


def expect(recs, org, since, until):
    e = {"records": 0, "docs": {k: [0, 0] for k in ("sent", "received", "all")},
         "reasons": {}, "applied": 0,
         "certs": {k: [0, 0] for k in ("organisation", "personal", "unknown")},
         "actions": {k: [0, 0] for k in ("accept", "reject", "tempfail", "quarantine")},
         "months": {}, "nodes": {}}
    certs = {}
    for r in recs:
        t = r["_t"]
        if (since and t < since) or (until and t >= until):
            continue
        sent = in_org(r["env_from"], org)
        recv = any(in_org(a, org) for a in r["rcpts"])
        if not (sent or recv):
            continue
        e["records"] += 1
        e["nodes"][r["node"]] = e["nodes"].get(r["node"], 0) + 1
        e["actions"][r["action"]][0] += 1
        if r["mode"] == "monitor":
            e["actions"][r["would"]][1] += 1
        month = e["months"].setdefault(month_of(t), {"sent": 0, "received": 0, "all": 0,
                                                      "refused": 0})
        accepted = r["action"] == "accept"
        for d in r["documents"]:
            if d["counted"]:
                add_doc(e, d, sent, recv, accepted, r["mode"] == "monitor", month, certs)
        if sent and accepted:
            e["applied"] += len(r["applied"])
    return e


CASES = [
    ("all", [], None, None, None),
    ("khanhhoa-2025", ["--org", "khanhhoa.gov.vn", "--year", "2025"], "khanhhoa.gov.vn",
     (2025, 1, 1), (2026, 1, 1)),
    ("dongthap-months", ["--org", "DongThap.gov.vn", "--since", "2024-03", "--until", "2024-07"],
     "dongthap.gov.vn", (2024, 3, 1), (2024, 8, 1)),
    ("sotc-days", ["--org", "sotc.khanhhoa.gov.vn", "--since", "2024-06-15",
                   "--until", "2025-02-10"], "sotc.khanhhoa.gov.vn", (2024, 6, 15), (2025, 2, 11)),
    ("kontum-2024", ["--org", "kontum.gov.vn", "--year", "2024"], "kontum.gov.vn",
     (2024, 1, 1), (2025, 1, 1)),
    ("lookalike", ["--org", "notkhanhhoa.gov.vn"], "notkhanhhoa.gov.vn", None, None),
]


def main():
    out = sys.argv[1]
    rnd = random.Random(SEED)
    pool = cert_pool(rnd)
    recs = [record(rnd, pool, t, i) for i, t in enumerate(make_times(rnd))]
    odd = record(rnd, pool, local_ms(2025, 7, 15, 12), len(recs))
    odd.update(node=EVIL_NODE, env_from=OTHERS[1], rcpts=[OTHERS[2]])
    recs = sorted(recs + [odd], key=lambda r: r["_t"])
    os.makedirs(os.path.join(out, "store"), exist_ok=True)
    damaged = ["this line is not a record", '{"time":"not a time","node":"mx1"}',
               '{"time":"2025-06-01T10:00:00.000+07:00","node":"mx1","documents":[']
    split = local_ms(2025, 1, 1)
    for name, part in (("decisions.jsonl.1", [r for r in recs if r["_t"] < split]),
                       ("decisions.jsonl", [r for r in recs if r["_t"] >= split])):
        with open(os.path.join(out, "store", name), "w", encoding="utf-8") as f:
            for k, r in enumerate(part):
                line = dict((key, v) for key, v in r.items() if key != "_t")
                f.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
                if name == "decisions.jsonl" and k in (100, 900, 1500):
                    f.write(damaged.pop() + "\n")
    cases = []
    for name, args, org, since, until in CASES:
        lo = local_ms(*since) if since else 0
        hi = local_ms(*until) if until else 0
        cases.append({"name": name, "args": args, "org": org,
                      "expect": expect(recs, org, lo, hi)})
    with open(os.path.join(out, "expect.json"), "w", encoding="utf-8") as f:
        json.dump({"damaged": 3, "records_total": len(recs), "cases": cases}, f,
                  ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
