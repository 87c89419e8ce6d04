-- enforce.lua - the main decisions in enforce mode, seen as the MTA sees
-- them: replies and enhanced codes, headers added and removed.
dofile(os.getenv("MILTER_LIB"))

-- an unsigned PDF between two watched domains: refused
local conn = open_conn()
send(conn, GOV_FROM, GOV_RCPT, FX .. "/mail/unsigned-pdf.eml")
-- (miltertest cannot parse multi-line replies: their text is checked in
-- the decision records by run-milter.sh, and on a real Postfix by tests/e2e)
check(mt.getreply(conn) == SMFIR_REPLYCODE, "unsigned PDF: refused with a reply of our own")
check(not mt.eom_check(conn, MT_HDRADD), "unsigned PDF: no header added to a refused message")
mt.disconnect(conn)

-- a PDF signed by the organisation (pdfsig), sent as octet-stream: accepted
conn = open_conn()
send(conn, GOV_FROM, GOV_RCPT, FX .. "/mail/octet-stream.eml")
check(mt.getreply(conn) == SMFIR_CONTINUE or mt.getreply(conn) == SMFIR_ACCEPT,
      "signed PDF as octet-stream: accepted")
check(header_has(conn, "X-Kyso-Document", 0, "verdict=valid; reason=ok"),
      "signed PDF: X-Kyso-Document says valid")
check(header_has(conn, "X-Kyso-Document", 0, "signer=\"[^\"]*CN="),
      "signed PDF: X-Kyso-Document names the signer")
check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results"),
      "signed PDF: Authentication-Results inserted")
check(header_has(conn, "Authentication-Results", 0, "^ ?mt%.test;.*x%-kyso=pass"),
      "signed PDF: Authentication-Results has our authserv-id and x-kyso=pass")
mt.disconnect(conn)

-- one byte changed after signing: refused
conn = open_conn()
send(conn, GOV_FROM, GOV_RCPT, FX .. "/mail/tampered-pdf.eml")
check(mt.getreply(conn) == SMFIR_REPLYCODE, "tampered PDF: refused")
mt.disconnect(conn)

-- forged copies of our headers are deleted, others' results are kept
conn = open_conn()
send(conn, GOV_FROM, GOV_RCPT, FX .. "/mail/octet-stream.eml",
     {{"X-Kyso-Document", "name=\"x.pdf\"; verdict=valid; reason=ok"},
      {"Authentication-Results", "mt.test; x-kyso=pass"},
      {"Authentication-Results", "other.example; dkim=pass"},
      {"X-Kyso-Document", "name=\"y.pdf\"; verdict=valid"},
      {"X-Kyso-Monitor", "would=accept"}})
check(mt.eom_check(conn, MT_HDRDELETE, "X-Kyso-Document"), "forged X-Kyso-Document deleted")
check(mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results"),
      "forged Authentication-Results with our authserv-id deleted")
check(mt.eom_check(conn, MT_HDRDELETE, "X-Kyso-Monitor"), "forged X-Kyso-Monitor deleted")
mt.disconnect(conn)

-- mail outside the watched flows is accepted at the end of the headers
conn = open_conn()
local r = send(conn, "<someone@gmail.example>", GOV_RCPT, FX .. "/mail/unsigned-pdf.eml")
check(r == SMFIR_ACCEPT, "sender outside EnforceDomains: accepted without reading the body")
mt.disconnect(conn)

-- an exempt sender is not checked
conn = open_conn()
r = send(conn, "<scanner@sotttt.demo.gov.vn>", GOV_RCPT, FX .. "/mail/unsigned-pdf.eml")
check(r == SMFIR_ACCEPT, "exempt sender: accepted unchecked")
mt.disconnect(conn)

-- a watched message without documents passes, tagged as having none
conn = open_conn()
send(conn, GOV_FROM, GOV_RCPT, FX .. "/mail/nodocs.eml")
check(header_has(conn, "Authentication-Results", 0, "x%-kyso=none"),
      "no documents: accepted with x-kyso=none")
mt.disconnect(conn)

-- a message over MaxParts is refused
conn = open_conn()
send(conn, GOV_FROM, GOV_RCPT, FX .. "/mail/many-parts.eml")
check(mt.getreply(conn) == SMFIR_REPLYCODE, "over MaxParts: refused")
mt.disconnect(conn)

-- ModeTable puts one agency in monitor: tagged, never refused
conn = open_conn()
send(conn, "<vanthu@pilot.demo.gov.vn>", GOV_RCPT, FX .. "/mail/unsigned-pdf.eml")
check(mt.getreply(conn) == SMFIR_CONTINUE or mt.getreply(conn) == SMFIR_ACCEPT,
      "monitor mode: unsigned PDF accepted")
check(header_has(conn, "X-Kyso-Monitor", 0, "would=reject; reason=unsigned"),
      "monitor mode: X-Kyso-Monitor says it would reject as unsigned")
mt.disconnect(conn)
