-- wrk script shared by every contender:
--   GET $BENCH_PATH with Qaqpa-Client: $BENCH_CLIENT_ID (and Accept: application/json).
-- Optional, for the Qaqpa levels L1 and up (benchmarks/run.sh sets them per contender):
--   $BENCH_SUBJECT  -> Qaqpa-Subject,  $BENCH_PURPOSE -> Qaqpa-Purpose (static headers);
--   $BENCH_MSGID=1  -> a fresh random UUIDv4 in Qaqpa-Message-Id on every request, so the
--                      gateway's replay record and duplicate check run as in production and no
--                      request is a 409 DUPLICATE.
-- Without BENCH_MSGID no request() function is defined and wrk sends one pre-built request (the
-- L0 / N / D request, byte for byte as before). With it, request() concatenates a pre-built head
-- around the UUID: 8 math.random calls + 1 string.format + 1 concat per request, no wrk.format.
-- No response() callback on purpose: it would make wrk parse every response in Lua and cost the
-- load generator (which shares CPU 0 with the upstream) more than the system under test.
-- done() writes one JSON object to $BENCH_WRK_OUT for benchmarks/run.sh.
local path = os.getenv("BENCH_PATH") or "/v1/services/bench.echo"
local client = os.getenv("BENCH_CLIENT_ID") or "KZ/GOV/990140000027/bench-client"
local subject = os.getenv("BENCH_SUBJECT") or ""
local purpose = os.getenv("BENCH_PURPOSE") or ""
local msgid = os.getenv("BENCH_MSGID") == "1"

wrk.method = "GET"
wrk.path = path
wrk.headers["Qaqpa-Client"] = client
wrk.headers["Accept"] = "application/json"
if subject ~= "" then wrk.headers["Qaqpa-Subject"] = subject end
if purpose ~= "" then wrk.headers["Qaqpa-Purpose"] = purpose end

if msgid then
  local MARK = "00000000-0000-4000-8000-000000000000"
  local head, tail
  local random, format = math.random, string.format

  init = function(args)
    -- wrk.init has set the Host header by now; build the request once with a marker id.
    math.randomseed(os.time() + math.floor(os.clock() * 1e6) + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
    local h = {}
    for k, v in pairs(wrk.headers) do h[k] = v end
    h["Qaqpa-Message-Id"] = MARK
    local req = wrk.format(nil, nil, h)
    local i, j = req:find(MARK, 1, true)
    head, tail = req:sub(1, i - 1), req:sub(j + 1)
  end

  request = function()
    return head .. format("%04x%04x-%04x-4%03x-%04x-%04x%04x%04x",
      random(0, 65535), random(0, 65535), random(0, 65535), random(0, 4095),
      random(32768, 49151), random(0, 65535), random(0, 65535), random(0, 65535)) .. tail
  end
end

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
