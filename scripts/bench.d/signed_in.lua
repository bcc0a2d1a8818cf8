-- GET with the cookies of a signed-in session (from BENCH_COOKIE).
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
