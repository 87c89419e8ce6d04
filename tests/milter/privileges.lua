-- privileges.lua - the daemon, running as nobody, still refuses an
-- unsigned PDF (it can read what it loaded as root and write its store).
dofile(os.getenv("MILTER_LIB"))
local conn = open_conn()
send(conn, GOV_FROM, GOV_RCPT, FX .. "/mail/unsigned-pdf.eml")
check(mt.getreply(conn) == SMFIR_REPLYCODE, "as nobody: an unsigned PDF is refused")
mt.disconnect(conn)
