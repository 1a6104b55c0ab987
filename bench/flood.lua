-- A flood of refused logins (issue 22): wrong passwords for ACCOUNTS accounts
-- (flood0@bench.test …), each request from one of ADDRESSES client addresses given in
-- X-Forwarded-For (the server trusts 127.0.0.1 as a proxy), in rotation.
local accounts = tonumber(os.getenv("ACCOUNTS") or "4")
local addresses = tonumber(os.getenv("ADDRESSES") or "1")
local counter = 0

request = function()
  counter = counter + 1
  -- Every address tries every account in turn.
  local account = counter % accounts
  local address = math.floor(counter / accounts) % addresses
  local body = string.format('{"email":"flood%d@bench.test","password":"Wrong1234"}', account)
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-Forwarded-For"] = string.format("10.%d.%d.1", math.floor(address / 256), address % 256),
  }
  return wrk.format("POST", "/api/v1/auth/login", headers, body)
end

-- Count the answers by status (wrk's summary only separates 2xx from the rest).
local threads = {}
setup = function(thread) table.insert(threads, thread) end
local by_status = {}
response = function(status)
  by_status[status] = (by_status[status] or 0) + 1
  too_many = by_status[429] or 0
  unauthorized = by_status[401] or 0
end
done = function()
  local c429, c401 = 0, 0
  for _, thread in ipairs(threads) do
    c429 = c429 + (thread:get("too_many") or 0)
    c401 = c401 + (thread:get("unauthorized") or 0)
  end
  io.write(string.format("status 401: %d\nstatus 429: %d\n", c401, c429))
end
