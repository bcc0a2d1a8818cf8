-- GET /sso/v2/authorize with a signed-in, consented session: each answer carries a fresh code,
-- which is appended to BENCH_CODES_FILE (one file per wrk thread).
local counter = 0
local file
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
  file = io.open(os.getenv("BENCH_CODES_FILE") .. "." .. id, "w")
end
function response(status, headers, body)
  local location = headers["location"] or headers["Location"] or ""
  local code = string.match(location, "[?&]code=([^&]+)")
  if code then file:write(code, "\n"); file:flush() end
end
