-- POST /sso/v2/token, grant_type=authorization_code, each request with the next pre-made code.
local counter = 0
local codes = {}
local next_code = 1
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  for line in io.lines(os.getenv("BENCH_CODES_FILE") .. "." .. id) do codes[#codes + 1] = line end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
end
function request()
  local code = codes[next_code] or "exhausted"
  next_code = next_code + 1
  return wrk.format(nil, nil, nil,
    "grant_type=authorization_code&redirect_uri=" .. os.getenv("BENCH_REDIRECT") .. "&code=" .. code)
end
