-- GET /sso/v2/userinfo with one access token (from BENCH_ACCESS_TOKEN).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_ACCESS_TOKEN")
