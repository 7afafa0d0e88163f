-- wrk script of benchmarks/async: GET /v1/services/person.byIin as the demo tax service about a
-- demo citizen, a fresh random UUIDv4 Qaqpa-Message-Id on every request, and with
-- BENCH_ASYNC=1 `Prefer: respond-async` (every request is a new async submission).
-- done() writes one JSON object to $BENCH_WRK_OUT (requests, errors, latency percentiles).
local async = os.getenv("BENCH_ASYNC") == "1"

wrk.method = "GET"
wrk.path = "/v1/services/person.byIin"
wrk.headers["Qaqpa-Client"] = "KZ/GOV/240140000021/tax-service"
wrk.headers["Qaqpa-Subject"] = "IIN:900101300017"
wrk.headers["Qaqpa-Purpose"] = "TAX_ADMINISTRATION"
wrk.headers["Accept"] = "application/json"
if async then wrk.headers["Prefer"] = "respond-async" end

local MARK = "00000000-0000-4000-8000-000000000000"
local head, tail
local random, format = math.random, string.format

init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6) +
                  (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
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

done = function(summary, latency, requests)
  local out = os.getenv("BENCH_WRK_OUT")
  if not out then return end
  local e = summary.errors
  local f = assert(io.open(out, "w"))
  f:write(string.format(
    '{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
    '"status":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
  f:close()
end
