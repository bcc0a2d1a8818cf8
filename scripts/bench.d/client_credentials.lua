-- POST /sso/v2/token, grant_type=client_credentials, HTTP Basic (the secret comes from BENCH_BASIC).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
wrk.body = "grant_type=client_credentials"
