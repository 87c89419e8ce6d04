-- badinput.lua - bad input sent through kyso-milter as an MTA would send
-- it (messages made by mkbad.py in $BAD): each one must end with an answer
-- the MTA understands (a reply of our own for a refusal, continue or
-- accept otherwise), and the milter must answer the next connection.
-- The decision records and log lines are checked by run-badinput.sh.
-- Header fields over 1 KB and the message without a body are sent by
-- mkbad.py's client instead: miltertest cannot send them.
dofile(os.getenv("MILTER_LIB"))

local BAD = os.getenv("BAD")
local PID = os.getenv("MILTER_PID")

-- split_head(data): header fields {name, value} of a CRLF message and the
-- offset of its body (continuation lines are kept, as lib.lua does).
local function split_head(data)
  local stop = data:find("\r\n\r\n", 1, true)
  local fields = {}
  for line in data:sub(1, stop + 1):gmatch("([^\r\n]*)\r\n") do
    if line:match("^[ \t]") and #fields > 0 then
      fields[#fields][2] = fields[#fields][2] .. "\r\n" .. line
    elseif line ~= "" then
      local name, value = line:match("^([^:]+):[ \t]?(.*)$")
      fields[#fields + 1] = {name, value}
    end
  end
  return fields, stop + 4
end

-- deliver(conn, name, bodyfile): BAD/NAME.eml up to end-of-message, the
-- body streamed as is in 65000-byte chunks (or BAD/NAME.body through
-- mt.bodyfile when BODYFILE: NUL bytes).  Returns nil, or what failed.
local function deliver(conn, name, bodyfile)
  local f = assert(io.open(BAD .. "/" .. name .. ".eml", "rb"))
  local fields, body_at = split_head(f:read(256 * 1024))
  mt.macro(conn, SMFIC_MAIL, "i", "BI-" .. name)
  if mt.mailfrom(conn, GOV_FROM) ~= nil then return "mailfrom" end
  if mt.rcptto(conn, GOV_RCPT[1]) ~= nil then return "rcptto" end
  for _, h in ipairs(fields) do
    if mt.header(conn, h[1], h[2]) ~= nil then return "header " .. h[1] end
  end
  if mt.eoh(conn) ~= nil then return "eoh" end
  if bodyfile then
    if mt.bodyfile(conn, BAD .. "/" .. name .. ".body") ~= nil then return "bodyfile" end
  else
    f:seek("set", body_at - 1)
    while true do
      local chunk = f:read(65000)
      if chunk == nil then break end
      if mt.bodystring(conn, chunk) ~= nil then return "body" end
    end
  end
  f:close()
  if mt.eom(conn) ~= nil then return "eom" end
  return nil
end

-- answers(): does the milter still take a new connection and decide?
-- (an outside sender: accepted at the end of the headers)
local function answers()
  local ok_, conn = pcall(open_conn)
  if not ok_ then return false end
  mt.macro(conn, SMFIC_MAIL, "i", "PROBE")
  local good = mt.mailfrom(conn, "<someone@gmail.example>") == nil and
               mt.rcptto(conn, GOV_RCPT[1]) == nil and
               mt.header(conn, "From", "someone@gmail.example") == nil and
               mt.eoh(conn) == nil and mt.getreply(conn) == SMFIR_ACCEPT
  mt.disconnect(conn)
  return good
end

local WANT = {
  reject = function(r) return r == SMFIR_REPLYCODE end,
  accept = function(r) return r == SMFIR_CONTINUE or r == SMFIR_ACCEPT end,
  decided = function(r)
    return r == SMFIR_REPLYCODE or r == SMFIR_CONTINUE or r == SMFIR_ACCEPT or
           r == SMFIR_REJECT or r == SMFIR_TEMPFAIL
  end,
}

-- case(name, want, opts): send one bad message, check the answer at the
-- end of the message (and, for an accepted document, its header), then
-- that the milter still answers.
local function case(name, want, opts)
  opts = opts or {}
  mt.set_timeout(opts.timeout or 10)
  local conn = open_conn()
  local ok_, err = pcall(deliver, conn, name, opts.bodyfile)
  local fine = ok_ and err == nil
  check(fine and WANT[want](mt.getreply(conn)),
        name .. ": " .. want .. (fine and "" or " (" .. tostring(err) .. ")"))
  if fine and opts.doc then
    check(header_has(conn, "X-Kyso-Document", 0, opts.doc),
          name .. ": X-Kyso-Document " .. opts.doc)
  end
  mt.disconnect(conn)
  mt.set_timeout(10)
  check(answers(), name .. ": the milter still answers")
end

-- vm_hwm(): the daemon's peak resident size in kB, or nil.
local function vm_hwm()
  local f = PID and io.open("/proc/" .. PID .. "/status", "r")
  if not f then return nil end
  local kb = f:read("*a"):match("VmHWM:%s*(%d+) kB")
  f:close()
  return tonumber(kb)
end

-- over the size limit, first, so that the peak memory is its own
case("big-60m", "reject", {timeout = 60})
local hwm = vm_hwm()
print(string.format("VmHWM of the daemon after the 60 MB message: %s kB", tostring(hwm)))
check(hwm ~= nil and hwm < 300 * 1024, "big-60m: the daemon's peak memory stays under 300 MB")

case("parts-10000", "reject", {timeout = 60})
case("depth-multipart-200", "reject", {timeout = 60})
case("depth-rfc822-200", "reject", {timeout = 60})

local VALID = "verdict=valid; reason=ok"
case("nofrom-signed", "accept", {doc = VALID})
case("nofrom-unsigned", "reject")
case("twofrom-signed", "accept", {doc = VALID})
case("twofrom-unsigned", "reject")

case("unclosed-signed", "accept", {doc = VALID})
case("unclosed-unsigned", "reject")
case("garbage-unsigned", "reject")
case("nocolon-unsigned", "reject")
case("nocolon-signed", "decided")
case("b64-inserted-signed", "accept", {doc = VALID})
case("b64-replaced-signed", "reject")
case("b64-replaced-unsigned", "reject")

case("utf8-signed", "accept", {doc = VALID})
case("latin1-unsigned", "reject")
case("hdrname-space", "reject")
case("hdrname-8bit", "accept", {doc = VALID})
-- bare CR line ends: parsers that end lines at CR (Python's email, for
-- one) see the unsigned PDF, so it must not pass as "no documents"
case("cr-only-unsigned", "reject")
case("nul-unsigned", "reject", {bodyfile = true})
