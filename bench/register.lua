-- POST /register with a new address every time (thread id and counter).
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
  local body = string.format('{"email":"load%d_%d_%d@bench.test","password":"Bench1234"}', os.time(), thread_id, counter)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
