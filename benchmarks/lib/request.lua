-- wrk script shared by every contender, so all of them receive the same bytes:
--   GET $BENCH_PATH with Qaqpa-Client: $BENCH_CLIENT_ID.
-- No response() callback on purpose: it would make wrk parse every response in Lua and cost the
-- load generator (which shares CPU 0 with the upstream) more than the system under test.
-- done() writes one JSON object to $BENCH_WRK_OUT for benchmarks/run.sh.
local path = os.getenv("BENCH_PATH") or "/v1/services/bench.echo"
local client = os.getenv("BENCH_CLIENT_ID") or "KZ/GOV/990140000027/bench-client"

wrk.method = "GET"
wrk.path = path
wrk.headers["Qaqpa-Client"] = client
wrk.headers["Accept"] = "application/json"

done = function(summary, latency, requests)
  local out = os.getenv("BENCH_WRK_OUT")
  if not out then return end
  local e = summary.errors
  local f = assert(io.open(out, "w"))
  f:write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
  f:close()
end
