-- wrk script: POST request bodies made unique per request, results as JSON.
--
--   BENCH_BODIES  colon-separated body files (JSON with "__UNIQ__" placeholders), used in turn
--   BENCH_PATH    the request path, e.g. /cds-services/oncopath-order-sign
--   BENCH_RUN     a run id, so values stay unique across runs against one database
--   BENCH_OUT     where done() writes {"requests", "duration_us", "errors", "latency_us"}
--
-- Every "__UNIQ__" in a body becomes "<run>-<thread>-<counter>": one new case per request.

local threads = {}
local counter = 0
local bodies = {}
local nbodies = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local function split(text, sep)
  local parts, start = {}, 1
  while true do
    local i, j = string.find(text, sep, start, true)
    if not i then
      table.insert(parts, string.sub(text, start))
      return parts
    end
    table.insert(parts, string.sub(text, start, i - 1))
    start = j + 1
  end
end

function init(args)
  for file in string.gmatch(os.getenv("BENCH_BODIES"), "[^:]+") do
    local f = assert(io.open(file, "rb"))
    table.insert(bodies, split(f:read("*a"), "__UNIQ__"))
    f:close()
  end
  nbodies = #bodies
  path = os.getenv("BENCH_PATH")
  prefix = (os.getenv("BENCH_RUN") or "run") .. "-" .. tid .. "-"
  headers = {["Content-Type"] = "application/json", ["Accept"] = "application/json"}
end

function request()
  counter = counter + 1
  local parts = bodies[(counter % nbodies) + 1]
  return wrk.format("POST", path, headers, table.concat(parts, prefix .. counter))
end

function done(summary, latency, requests)
  local out = assert(io.open(os.getenv("BENCH_OUT"), "w"))
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "mean": %.1f, "p50": %d, "p90": %d, "p95": %d, "p99": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status,
    summary.errors.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max))
  out:close()
end
