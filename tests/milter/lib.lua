-- lib.lua - shared by the miltertest suites: TAP-style checks, and sending
-- a whole .eml file through a milter connection as an MTA would (headers
-- one by one, unfolded; body with CRLF line ends, in 64 KB chunks).

local checks = 0

-- check(cond, name): one "ok"/"not ok" line; the driver numbers them.
function check(cond, name)
  checks = checks + 1
  if cond then
    print("ok - " .. name)
  else
    print("not ok - " .. name)
  end
end

-- open_conn(): a negotiated connection to the milter under test.
function open_conn(client)
  local conn = mt.connect(os.getenv("MILTER_SOCKET"), 50, 0.1)
  if conn == nil then error("cannot connect to " .. os.getenv("MILTER_SOCKET")) end
  if mt.conninfo(conn, "client.example", client or "192.0.2.10") ~= nil then
    error("conninfo failed")
  end
  return conn
end

-- read_eml(path): headers as a list of {name, value} and the body (CRLF).
function read_eml(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  data = data:gsub("\r\n", "\n")
  local sep = data:find("\n\n", 1, true)
  local head, body = data:sub(1, sep), data:sub(sep + 2)
  local headers = {}
  for line in head:gmatch("([^\n]*)\n") do
    if line:match("^[ \t]") and #headers > 0 then
      headers[#headers][2] = headers[#headers][2] .. "\r\n" .. line
    elseif line ~= "" then
      local name, value = line:match("^([^:]+):[ \t]?(.*)$")
      headers[#headers + 1] = {name, value}
    end
  end
  return headers, body:gsub("\n", "\r\n")
end

-- send(conn, from, rcpts, path[, extra_headers[, macros]]): one message
-- up to and including end-of-message; returns the reply code at the end
-- of the headers when the milter decided there (SMFIR_ACCEPT), else nil.
function send(conn, from, rcpts, path, extra, macros)
  if macros then
    mt.macro(conn, SMFIC_MAIL, (table.unpack or unpack)(macros))
  else
    mt.macro(conn, SMFIC_MAIL, "i", "QID" .. tostring(os.time()))
  end
  assert(mt.mailfrom(conn, from) == nil, "mailfrom")
  for _, r in ipairs(rcpts) do
    assert(mt.rcptto(conn, r) == nil, "rcptto")
  end
  local headers, body = read_eml(path)
  for _, h in ipairs(extra or {}) do headers[#headers + 1] = h end
  for _, h in ipairs(headers) do
    assert(mt.header(conn, h[1], h[2]) == nil, "header")
  end
  assert(mt.eoh(conn) == nil, "eoh")
  if mt.getreply(conn) == SMFIR_ACCEPT then return SMFIR_ACCEPT end
  local pos = 1
  while pos <= #body do
    assert(mt.bodystring(conn, body:sub(pos, pos + 65000 - 1)) == nil, "body")
    pos = pos + 65000
  end
  assert(mt.eom(conn) == nil, "eom")
  return nil
end

-- header_has(conn, name, n, pattern): does the n-th added NAME match?
function header_has(conn, name, n, pattern)
  local v = mt.getheader(conn, name, n)
  return v ~= nil and string.find(v, pattern) ~= nil
end

FX = os.getenv("FIXTURES")
GOV_FROM = "<vanthu@sotttt.demo.gov.vn>"
GOV_RCPT = {"<tiepnhan@ubnd.demo.gov.vn>"}
