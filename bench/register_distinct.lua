-- POST /register with a new address and a new password every time (thread id and
-- counter): each password's SHA-1 range differs, so the breach check's cache never helps.
-- bench/breach_ranges.py writes the range files for exactly these passwords.
local counter = 0
local thread_id = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  thread_id = id
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"email":"load%d_%d_%d@bench.test","password":"Bench%dPw%d"}',
    os.time(), thread_id, counter, thread_id, counter)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
