#!/usr/bin/env python3
"""check.py KIND EXPECT CASE FILE... - compare what `kyso report` wrote with
the numbers mkrecords.py worked out (EXPECT, case CASE).  Prints one
"ok - ..." or "not ok - ..." line per check (run-report.sh numbers them)
and "# ..." lines saying what differs.

  text EXPECT CASE OUT        the plain text table
  csv  EXPECT CASE OUT        the CSV export, read with Python's csv module
  dom  EXPECT CASE DOM HTML   the DOM Chromium rendered from the HTML page
                              (and the page's own bytes: self-contained?)
  png  PNG WIDTH HEIGHT       the screenshot Chromium made
"""
import csv
import html.parser
import json
import re
import struct
import sys
import time

CLASSES = ("organisation", "personal", "unknown")
ACTIONS = ("accept", "reject", "tempfail", "quarantine")


def report(ok, name, got=None, want=None):
    print("%s - %s" % ("ok" if ok else "not ok", name))
    if not ok and (got is not None or want is not None):
        print("# got:  %s\n# want: %s" % (str(got)[:600], str(want)[:600]))


def load(path, name):
    cases = json.load(open(path, encoding="utf-8"))
    for c in cases["cases"]:
        if c["name"] == name:
            return cases, c
    raise SystemExit("no case " + name)


def shown(name):
    """A record's text as kyso shows it: control characters as \\xNN."""
    return re.sub("[\x00-\x1f\x7f]", lambda m: "\\x%02X" % ord(m.group(0)), name)


def months_ok(got, want):
    """Every expected month as expected; any other month shown all zeros."""
    for m, v in got.items():
        if v != want.get(m, [0] * len(v)):
            return False
    return all(m in got for m in want)


def want_months(e, keys):
    return {m: [v[k] for k in keys] for m, v in e["months"].items()}


# ---- text ---------------------------------------------------------------

def text_sections(lines):
    """Lines grouped under the roman numeral heading before them."""
    out, cur = {"head": []}, "head"
    for ln in lines:
        m = re.match(r"^(I|II|III|IV|V|VI)\. ", ln)
        if m:
            cur = m.group(1)
            out[cur] = []
        else:
            out[cur].append(ln)
    return out


def label_rows(lines):
    """{label: [numbers]} for lines "   label   N   N"."""
    rows = {}
    for ln in lines:
        m = re.match(r"^\s+([A-Za-z][A-Za-z ,+]*?)\s+(\d+)(?:\s+(\d+))?\s*(\(\*\))?$", ln)
        if m:
            rows[m.group(1)] = [int(x) for x in m.group(2, 3) if x is not None]
    return rows


def check_text(expect, case, path):
    e, org = case["expect"], case["org"]
    lines = open(path, encoding="utf-8").read().split("\n")
    sec = text_sections(lines)
    head = "\n".join(sec["head"])
    m = re.search(r"Records:\s+(\d+) decision records", head)
    report(m and int(m.group(1)) == e["records"], "text %s: records" % case["name"],
           m and m.group(1), e["records"])
    report((org or "all") in head, "text %s: the organisation is named" % case["name"])
    docs = label_rows(sec.get("I", []))
    want = {"all documents": e["docs"]["all"]} if org is None else {
        "sent": e["docs"]["sent"], "received": e["docs"]["received"],
        "total, each document once": e["docs"]["all"]}
    report(docs == want, "text %s: documents with valid signatures" % case["name"], docs, want)
    got = {}
    for ln in sec.get("II", []):
        m = re.match(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+([a-z_]+)\s", ln)
        if m:
            got[m.group(4)] = [int(m.group(k)) for k in (1, 2, 3)]
    total = got.pop("total", None)
    report(got == e["reasons"], "text %s: refused by reason" % case["name"], got, e["reasons"])
    sums = [sum(v[k] for v in e["reasons"].values()) for k in range(3)]
    report(total == sums, "text %s: refused, total row" % case["name"], total, sums)
    app = label_rows(sec.get("III", [])).get("applied")
    note = "(*)" in "\n".join(sec.get("III", []))
    report(app == [e["applied"]] and note == (e["applied"] == 0),
           "text %s: applied %d%s" % (case["name"], e["applied"],
                                      ", with the footnote" if not e["applied"] else ""),
           app, e["applied"])
    certs = {k: v for k, v in label_rows(sec.get("IV", [])).items() if k in CLASSES}
    report(certs == e["certs"], "text %s: certificates by class" % case["name"], certs,
           e["certs"])
    acts = {k: v for k, v in label_rows(sec.get("V", [])).items() if k in ACTIONS}
    report(acts == e["actions"], "text %s: messages by action" % case["name"], acts,
           e["actions"])
    months = {}
    for ln in sec.get("VI", []):
        m = re.match(r"^\s+(\d{4}-\d{2})((?:\s+\d+)+)$", ln)
        if m:
            months[m.group(1)] = [int(x) for x in m.group(2).split()]
    keys = ("sent", "received", "all", "refused") if org else ("all", "refused")
    report(months_ok(months, want_months(e, keys)), "text %s: documents per month"
           % case["name"], months, want_months(e, keys))


# ---- CSV ----------------------------------------------------------------

def csv_sections(path):
    """{section: [row dicts]} from the CSV: each section a header row whose
    first field is "section", rows naming their section, blank lines
    between sections."""
    raw = open(path, "rb").read()
    secs, header = {}, None
    ok_lines = all(ln.endswith(b"\r") for ln in raw.split(b"\n")[:-1])
    for row in csv.reader(raw.decode("utf-8").splitlines()):
        if not row:
            header = None
        elif row[0] == "section":
            header = row
        elif header:
            secs.setdefault(row[0], []).append(dict(zip(header, row)))
    return secs, ok_lines


def check_csv(expect, case, path):
    e, name = case["expect"], case["name"]
    secs, crlf = csv_sections(path)
    report(crlf, "csv %s: CRLF line ends (RFC 4180)" % name)
    kv = {r["key"]: r["value"] for r in secs.get("report", [])}
    report(kv.get("records") == str(e["records"]), "csv %s: records" % name, kv.get("records"),
           e["records"])
    if case["org"] is None:
        report(kv.get("damaged_records_skipped") == str(expect["damaged"]),
               "csv %s: damaged lines counted" % name, kv.get("damaged_records_skipped"),
               expect["damaged"])
    nodes = {r["node"]: int(r["records"]) for r in secs.get("nodes", [])}
    want = {shown(k): v for k, v in e["nodes"].items()}
    report(nodes == want, "csv %s: gateway nodes" % name, nodes, want)
    docs = {r["direction"]: [int(r["valid"]), int(r["valid_personal_and_organisation"])]
            for r in secs.get("documents", [])}
    report(docs == e["docs"], "csv %s: documents" % name, docs, e["docs"])
    reasons = {r["reason"]: [int(r["refused"]), int(r["monitor_would_refuse"]),
                             int(r["accepted_by_policy"])] for r in secs.get("refused", [])}
    report(reasons == e["reasons"], "csv %s: refused by reason" % name, reasons, e["reasons"])
    texts = {r["reason"]: r["reason_vi"] for r in secs.get("refused", [])}
    report(all(re.search("[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", v)
               for k, v in texts.items() if k != "quantum_broken")
           and texts.get("quantum_broken", "") == "",
           "csv %s: Vietnamese reason sentences (none for an unknown code)" % name, texts)
    app = [r["applied"] for r in secs.get("applied", [])]
    report(app == [str(e["applied"])], "csv %s: applied" % name, app, e["applied"])
    certs = {r["class"]: [int(r["seen"]), int(r["valid"])] for r in secs.get("certificates", [])}
    report(certs == e["certs"], "csv %s: certificates" % name, certs, e["certs"])
    acts = {r["action"]: [int(r["messages"]), int(r["monitor_would"])]
            for r in secs.get("messages", [])}
    want = dict(e["actions"], other=[0, 0])
    report(acts == want, "csv %s: messages by action" % name, acts, want)
    months = {r["month"]: [int(r[k]) for k in ("sent_valid", "received_valid", "all_valid",
                                                 "refused")] for r in secs.get("months", [])}
    wm = want_months(e, ("sent", "received", "all", "refused"))
    report(months_ok(months, wm), "csv %s: months" % name, months, wm)


# ---- DOM ----------------------------------------------------------------

class Dom(html.parser.HTMLParser):
    """Text by element id, the headings, the SVG bars by month."""
    VOID = {"meta", "br", "img", "input", "link", "hr"}

    def __init__(self):
        super().__init__()
        self.stack, self.ids, self.h, self.bars = [], {}, [], {}
        self.month, self.rect_title = None, False
        self.en_in_h2 = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "g" and "data-month" in a:
            self.month = a["data-month"]
        if tag == "rect" and self.month:
            self.bars.setdefault(self.month, []).append([a.get("class"), None])
            self.rect_title = True
        if tag == "span" and "en" in (a.get("class") or "").split() \
                and any(t == "h2" for t, _ in self.stack):
            self.en_in_h2 += 1
        if tag not in self.VOID:
            self.stack.append((tag, a.get("id")))

    def handle_endtag(self, tag):
        if tag == "g":
            self.month = None
        if tag == "rect":
            self.rect_title = False
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for t, i in self.stack:
            if i:
                self.ids[i] = self.ids.get(i, "") + data
        if any(t in ("h1", "h2", "th") for t, _ in self.stack):
            self.h.append(data)
        if self.rect_title and any(t == "title" for t, _ in self.stack):
            self.bars[self.month][-1][1] = (self.bars[self.month][-1][1] or "") + data


def num(s):
    m = re.match(r"\s*(\d+)", s or "")
    return int(m.group(1)) if m else None


def check_dom(expect, case, dom_path, html_path):
    e, name, org = case["expect"], case["name"], case["org"]
    page = open(html_path, encoding="utf-8").read()
    outside = re.findall(r"<script|<link|<img|<iframe|\bsrc=|\bhref=|url\(|@import|https?://",
                         page.replace('xmlns="http://www.w3.org/2000/svg"', ""))
    report(not outside, "html %s: self-contained (no script, no external asset)" % name,
           outside, [])
    d = Dom()
    d.feed(open(dom_path, encoding="utf-8").read())
    heads = " ".join(" ".join(d.h).split())
    forms = ["BÁO CÁO", "Số lượng văn bản ứng dụng chữ ký số", "Tên loại chứng thư số",
             "Chứng thư số tổ chức", "Chứng thư số cá nhân", "Tổng cộng", "STT"]
    missing = [f for f in forms if f not in heads]
    report(not missing, "dom %s: the headings of the forms rendered" % name, missing, [])
    report(d.en_in_h2 >= 6 and ".en{" in page and "font-size:.75em" in page,
           "dom %s: every section heading has its English in smaller text" % name,
           d.en_in_h2, ">= 6")
    report((org or "Tất cả") in d.ids.get("org", ""), "dom %s: the organisation" % name,
           d.ids.get("org"), org)
    report(all(("%s (%d)" % (shown(n), c)) in d.ids.get("nodes", "")
               for n, c in e["nodes"].items()),
           "dom %s: the gateway nodes and their records" % name, d.ids.get("nodes"), e["nodes"])
    today = time.strftime("%d/%m/%Y")
    report(today in d.ids.get("generated", ""), "dom %s: generation time" % name,
           d.ids.get("generated"), today)
    report(num(d.ids.get("records")) == e["records"], "dom %s: records" % name,
           d.ids.get("records"), e["records"])
    got = {}
    sides = ("sent", "received", "all") if org else ("all",)
    for k in sides:
        got[k] = [num(d.ids.get("docs-%s-valid" % k)), num(d.ids.get("docs-%s-both" % k))]
    want = {k: e["docs"][k] for k in sides}
    report(got == want, "dom %s: documents with valid signatures" % name, got, want)
    got = {r: [num(d.ids.get("%s-%s" % (p, r))) for p in ("refused", "would", "accepted")]
           for r in e["reasons"]}
    report(got == e["reasons"], "dom %s: refused by reason" % name, got, e["reasons"])
    report(num(d.ids.get("applied")) == e["applied"]
           and ("applied-note" in d.ids) == (e["applied"] == 0),
           "dom %s: applied (footnote when 0)" % name, d.ids.get("applied"), e["applied"])
    got = {c: [num(d.ids.get("certs-" + c)), num(d.ids.get("certs-%s-valid" % c))]
           for c in CLASSES}
    report(got == e["certs"], "dom %s: certificates by class" % name, got, e["certs"])
    got = {a: [num(d.ids.get("msgs-" + a)), num(d.ids.get("would-msgs-" + a))] for a in ACTIONS}
    report(got == e["actions"], "dom %s: messages by action" % name, got, e["actions"])
    series = ("sent", "received", "refused") if org else ("all", "refused")
    bars = {m: [num((t or "").rsplit(":", 1)[-1]) for c, t in v] for m, v in d.bars.items()}
    classes = {tuple(c for c, t in v) for v in d.bars.values()}
    wm = want_months(e, series)
    report(classes == {series} and months_ok(bars, wm),
           "dom %s: the chart has one bar per month and series, with the numbers" % name,
           (classes, bars), wm)


def check_png(path, width, height):
    data = open(path, "rb").read()
    ok = data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    w, h = struct.unpack(">II", data[16:24]) if ok else (0, 0)
    report(ok and (w, h) == (int(width), int(height)) and len(data) > 30000,
           "png: a %sx%s screenshot with something on it" % (width, height),
           (w, h, len(data)), (width, height, "> 30000 bytes"))


def main():
    kind = sys.argv[1]
    if kind == "png":
        check_png(*sys.argv[2:5])
        return
    expect, case = load(sys.argv[2], sys.argv[3])
    if kind == "text":
        check_text(expect, case, sys.argv[4])
    elif kind == "csv":
        check_csv(expect, case, sys.argv[4])
    elif kind == "dom":
        check_dom(expect, case, sys.argv[4], sys.argv[5])


if __name__ == "__main__":
    main()
