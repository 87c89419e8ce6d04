-- actions.lua - run after a reload that sets On-Unsigned quarantine and
-- takes the CRLs away: quarantine and tempfail.
dofile(os.getenv("MILTER_LIB"))

local conn = open_conn()
send(conn, GOV_FROM, GOV_RCPT, FX .. "/mail/unsigned-pdf.eml")
check(mt.eom_check(conn, MT_QUARANTINE), "On-Unsigned quarantine: held")
check(header_has(conn, "X-Kyso-Document", 0, "reason=unsigned"),
      "quarantined message carries its X-Kyso-Document")
mt.disconnect(conn)

conn = open_conn()
send(conn, GOV_FROM, GOV_RCPT, FX .. "/mail/octet-stream.eml")
check(mt.getreply(conn) == SMFIR_REPLYCODE and not mt.eom_check(conn, MT_QUARANTINE),
      "no CRL covers the signer: a reply of our own, not held")
mt.disconnect(conn)
