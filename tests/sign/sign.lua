-- sign.lua - the organisation signature through the milter protocol, with
-- {auth_authen} set as Postfix sets it after SMTP AUTH.  The driver
-- (run-milter-sign.sh) checks the records, the audit and the notices.
dofile(os.getenv("MILTER_LIB"))
local F = os.getenv("SIGN_FIXTURES")
local FROM, RCPT = "<vanthu@sotttt.demo.gov.vn>", {"<tiepnhan@ubnd.demo.gov.vn>"}
local function auth(user, qid)
  if user then return {"i", qid, "{auth_authen}", user} end
  return {"i", qid}
end

local phase = os.getenv("SIGN_PHASE")
local conn
-- one message per connection, as a submission client sends them
local real_send = send
send = function(...)
  if conn then mt.disconnect(conn) end
  conn = open_conn()
  return real_send(conn, select(2, ...))
end
-- (miltertest 8.17 itself crashes when a milter replaces the body, so the
-- signed path is not driven from here; see run-milter-sign.sh)
if phase == "main" then
  send(nil, FROM, RCPT, F .. "/personal.eml", nil, auth(nil, "QSIGN2"))
  check(mt.getreply(conn) == SMFIR_CONTINUE and not mt.eom_check(conn, MT_BODYCHANGE),
        "a văn thư's mail without SMTP AUTH (forged From): accepted as is, not signed")
  send(nil, "<khac@sotttt.demo.gov.vn>", RCPT, F .. "/personal-other-from.eml", nil,
       auth("vanthu", "QSIGN3"))
  check(mt.getreply(conn) == SMFIR_CONTINUE and not mt.eom_check(conn, MT_BODYCHANGE),
        "the văn thư sending as another address: accepted as is, not signed")
  send(nil, FROM, RCPT, F .. "/plain.eml", nil, auth("vanthu", "QSIGN4"))
  check(mt.getreply(conn) == SMFIR_REPLYCODE and not mt.eom_check(conn, MT_BODYCHANGE),
        "a PDF without a personal signature (personal-first): refused, nothing signed")
  send(nil, FROM, RCPT, F .. "/other-org.eml", nil, auth("vanthu", "QSIGN6"))
  check(mt.getreply(conn) == SMFIR_REPLYCODE and not mt.eom_check(conn, MT_BODYCHANGE),
        "a PDF already signed by another organisation: refused, nothing signed")
  send(nil, FROM, RCPT, F .. "/other-org-tampered.eml", nil, auth("vanthu", "QSIGN7"))
  check(mt.getreply(conn) == SMFIR_REPLYCODE and not mt.eom_check(conn, MT_BODYCHANGE),
        "another organisation's PDF with a broken signature: refused, nothing signed")
  send(nil, FROM, RCPT, F .. "/two-from.eml", nil, auth("vanthu", "QSIGN8"))
  check(mt.getreply(conn) ~= SMFIR_ACCEPT and not mt.eom_check(conn, MT_BODYCHANGE),
        "two From header fields: not signed")
  send(nil, FROM, {"<nguoidan@gmail.example>"}, F .. "/deep.eml", nil, auth("vanthu", "QSIGN9"))
  check(mt.getreply(conn) == SMFIR_REPLYCODE and not mt.eom_check(conn, MT_BODYCHANGE),
        "a PDF 66 multiparts deep, to an unwatched flow: refused, never sent unsigned")
elseif phase == "big" then
  -- to a citizen: a flow kyso does not enforce, so only the signing looks
  send(nil, FROM, {"<nguoidan@gmail.example>"}, F .. "/personal.eml", nil, auth("vanthu", "QBIG"))
  check(mt.getreply(conn) == SMFIR_REPLYCODE and not mt.eom_check(conn, MT_BODYCHANGE),
        "a văn thư's mail over MaxMessageSize, to an unwatched flow: refused, never sent unsigned")
elseif phase == "absent" then
  send(nil, FROM, RCPT, F .. "/personal.eml", nil, auth("vanthu", "QABSENT"))
  check(mt.getreply(conn) == SMFIR_REPLYCODE and not mt.eom_check(conn, MT_BODYCHANGE),
        "token removed: the mail is deferred, never sent unsigned")
end
if conn then mt.disconnect(conn) end
