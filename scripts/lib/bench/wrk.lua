-- wrk script for the benchmark. Run with as many threads as connections (one connection per
-- thread). Arguments after `--`:
--   1: a file of prepared requests, one per line, CRLFs written as tabs
--   2: the number of threads
--
-- Thread t of n sends requests t+1, t+1+n, t+1+2n, ... of the file, wrapping around at its
-- end, so threads never send the same request and a file of one-shot requests (deletes) is
-- used without overlap.
--
-- Latency is measured here rather than taken from wrk: wrk 4 "corrects" its histogram for
-- coordinated omission before done() sees it, adding synthetic samples for every stall, which
-- turns one 100 ms pause at c=1 into hundreds of samples and p99s no request experienced.
-- With one connection per thread, request() and response() alternate, so the time between
-- them is that request's latency, on the monotonic clock.
--
-- done() prints one JSON line, prefixed with BENCH_RESULT: the responses per status, socket
-- errors, latency percentiles in microseconds and the highest request index sent.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000000 + tonumber(timespec.tv_nsec) / 1000
end

local threads = {}
local created = 0

function setup(thread)
  thread:set("thread_index", created)
  created = created + 1
  table.insert(threads, thread)
end

function init(args)
  requests = {}
  for line in io.lines(args[1]) do
    requests[#requests + 1] = line:gsub("\t", "\r\n")
  end
  stride = tonumber(args[2])
  sent = 0
  highest = -1
  statuses = {}
  latencies = {}
  started = nil
end

function request()
  local index = thread_index + sent * stride
  sent = sent + 1
  if index > highest then highest = index end
  started = now_us()
  return requests[(index % #requests) + 1]
end

function response(status, headers, body)
  if started then
    latencies[#latencies + 1] = now_us() - started
    started = nil
  end
  statuses[status] = (statuses[status] or 0) + 1
end

local function percentile(sorted, p)
  if #sorted == 0 then return 0 end
  local rank = math.max(1, math.min(#sorted, math.ceil(p / 100 * #sorted)))
  return sorted[rank]
end

function done(summary, latency, requests)
  local counts = {}
  local all = {}
  local highest_index = -1
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + count
    end
    for _, value in ipairs(thread:get("latencies")) do
      all[#all + 1] = value
    end
    local thread_highest = thread:get("highest")
    if thread_highest > highest_index then highest_index = thread_highest end
  end
  table.sort(all)
  local sum = 0
  for _, value in ipairs(all) do sum = sum + value end
  local parts = {}
  for status, count in pairs(counts) do
    parts[#parts + 1] = string.format('"%d":%d', status, count)
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"statuses":{%s},' ..
      '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
      '"latency_us":{"samples":%d,"p50":%.1f,"p90":%.1f,"p99":%.1f,"max":%.1f,"mean":%.1f},"highest_index":%d}\n',
    summary.requests, summary.duration, table.concat(parts, ","),
    errors.connect, errors.read, errors.write, errors.timeout,
    #all, percentile(all, 50), percentile(all, 90), percentile(all, 99), all[#all] or 0,
    #all > 0 and sum / #all or 0, highest_index))
end
