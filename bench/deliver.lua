-- deliver.lua - wrk script: replay pre-signed Telnyx deliveries (bench/presign), each wrk thread
-- taking every THREADS-th line so no two threads send the same event. Environment:
--   HOOKD_BENCH_EVENTS  the presign file        HOOKD_BENCH_THREADS  wrk's -t
--   HOOKD_BENCH_DELAY_MS  optional pause before each request on a connection (rate limiting)
-- done() prints one JSON line with the request count and latency percentiles.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  events = {}
  step = tonumber(os.getenv("HOOKD_BENCH_THREADS"))
  local i = 0
  for line in io.lines(os.getenv("HOOKD_BENCH_EVENTS")) do
    if i % step == id then
      local ts, sig, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
      table.insert(events, {ts, sig, body})
    end
    i = i + 1
  end
  counter = 0
  pause = tonumber(os.getenv("HOOKD_BENCH_DELAY_MS") or "0")
end

function request()
  counter = counter + 1
  local e = events[((counter - 1) % #events) + 1]
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["User-Agent"] = "telnyx-webhooks",
    ["telnyx-timestamp"] = e[1],
    ["telnyx-signature-ed25519"] = e[2],
  }, e[3])
end

if tonumber(os.getenv("HOOKD_BENCH_DELAY_MS") or "0") > 0 then
  function delay()
    return pause
  end
end

function done(summary, latency, requests)
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,' ..
    '"errors":%d,"non2xx":%d,"timeouts":%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3,
    summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end
