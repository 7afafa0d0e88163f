-- wrk script of benchmarks/space (the citizen's digital-space API, docs/space.md).
-- Measuring mode (default):
--   GET $SPACE_PATH with "Authorization: Bearer $SPACE_TOKEN"; with $SPACE_IDS_FILE (one event id a
--   line) every request is GET /v1/space/events/<a random id of that file> instead (the proof).
--   No response() callback: wrk's own counters (errors.status = responses >= 400) are enough.
-- Seeding mode ($SEED_COUNT set): GET /v1/services/$SEED_SERVICE as client $SEED_CLIENT about
--   $SEED_SUBJECT for $SEED_PURPOSE (the gateway assigns the message id); the thread stops once
--   $SEED_COUNT responses arrived (up to connections - 1 more may still be served and journaled).
-- done() writes one JSON object to $SPACE_WRK_OUT.
local token = os.getenv("SPACE_TOKEN") or ""
local ids_file = os.getenv("SPACE_IDS_FILE")
local seed_count = tonumber(os.getenv("SEED_COUNT") or "")

wrk.method = "GET"
wrk.headers["Accept"] = "application/json"

if seed_count then
  wrk.path = "/v1/services/" .. os.getenv("SEED_SERVICE")
  wrk.headers["Qaqpa-Client"] = os.getenv("SEED_CLIENT")
  wrk.headers["Qaqpa-Subject"] = os.getenv("SEED_SUBJECT")
  wrk.headers["Qaqpa-Purpose"] = os.getenv("SEED_PURPOSE")
  -- Refusals are counted by wrk itself (errors.status: responses >= 400); run -t1.
  local seen = 0
  response = function(status, headers, body)
    seen = seen + 1
    if seen >= seed_count then wrk.thread:stop() end
  end
else
  wrk.path = os.getenv("SPACE_PATH") or "/v1/space/events?limit=50"
  wrk.headers["Authorization"] = "Bearer " .. token
  if ids_file then
    local ids = {}
    local head, tail
    local MARK = "@EVENT_ID@"
    init = function(args)
      for line in io.lines(ids_file) do
        if line ~= "" then ids[#ids + 1] = line end
      end
      assert(#ids > 0, "no ids in " .. ids_file)
      math.randomseed(os.time() + math.floor(os.clock() * 1e6))
      local req = wrk.format(nil, "/v1/space/events/" .. MARK)
      local i, j = req:find(MARK, 1, true)
      head, tail = req:sub(1, i - 1), req:sub(j + 1)
    end
    local random = math.random
    request = function()
      return head .. ids[random(#ids)] .. tail
    end
  end
end

done = function(summary, latency, requests)
  local out = os.getenv("SPACE_WRK_OUT")
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
