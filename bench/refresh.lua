-- POST /refresh with single-use refresh tokens: each thread starts with its share of the
-- tokens in TOKENS_FILE (one per line) and replaces each one it spends with the token the
-- answer brings, so that every request presents a valid, current token.
local queue = {}
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
function init(args)
  local count = tonumber(os.getenv("THREADS"))
  local n = 0
  for line in io.lines(os.getenv("TOKENS_FILE")) do
    n = n + 1
    if (n - 1) % count + 1 == id then table.insert(queue, line) end
  end
end
-- wrk builds one request before the run without sending it: that one must not spend a token.
local primed = false
function request()
  local token
  if primed then
    token = table.remove(queue, 1) or "none"
  else
    primed = true
    token = queue[1] or "none"
  end
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
    '{"refresh_token":"' .. token .. '"}')
end
function response(status, headers, body)
  local token = body:match('"refresh_token":"([^"]+)"')
  if token then table.insert(queue, token) end
end
