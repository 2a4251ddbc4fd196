-- wrk script of the redemption benchmark (bench/redemption.py): every request redeems a code
-- that no other request sends.
--
-- Environment (set by bench/redemption.py):
--   BENCH_CODES    file of "<code> <ticket id>" lines, one unredeemed ticket each
--   BENCH_THREADS  wrk's -t: thread n (0-based) takes lines n+1, n+1+T, n+1+2T, …
--   BENCH_MODE     "api": POST /api/v1/redemptions {"code": …} with the bearer token;
--                  "counter": the HTMX press of 【核銷】 on the counter page, POST /counter/act
--                  with the session cookie and the CSRF token, as counter.js sends it
--   BENCH_TOKEN    the API's bearer token (api)
--   BENCH_COOKIE   the Cookie header of a logged-in browser (counter)
--   BENCH_CSRF     that session's CSRF token (counter)
--
-- A thread that runs out of codes stops rather than send a used one again (its last request goes
-- to /__bench_exhausted, which is not counted); done() then says so and the benchmark refuses the
-- figure. done() prints one line "BENCHJSON {...}": counts, duration, latency percentiles (ms)
-- and every thread's answers by HTTP status (wrk's own summary counts only >= 400 as errors).

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local mode, token, cookie, csrf
local mine = {}
local index = 0
statuses = {}
exhausted = false
sent = 0

function init(args)
  mode = os.getenv("BENCH_MODE") or "api"
  token = os.getenv("BENCH_TOKEN") or ""
  cookie = os.getenv("BENCH_COOKIE") or ""
  csrf = os.getenv("BENCH_CSRF") or ""
  local total = tonumber(os.getenv("BENCH_THREADS") or "1")
  local n = 0
  for line in io.lines(os.getenv("BENCH_CODES")) do
    if n % total == id then
      local code, ticket = line:match("^(%S+)%s+(%S+)")
      table.insert(mine, {code, ticket})
    end
    n = n + 1
  end
end

local function form_escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  index = index + 1
  local item = mine[index]
  if item == nil then
    if not exhausted then
      exhausted = true
      wrk.thread:stop()
    end
    return wrk.format("GET", "/__bench_exhausted")
  end
  sent = sent + 1
  if mode == "counter" then
    return wrk.format("POST", "/counter/act", {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Cookie"] = cookie,
      ["HX-Request"] = "true",
      ["HX-Current-URL"] = "http://" .. wrk.host .. ":" .. wrk.port .. "/counter/redeem",
      ["HX-Target"] = "counter",
    }, "action=redeem&code=" .. item[1] .. "&ticket_id=" .. item[2] ..
       "&seen=unused&reason=&fee=&csrf_token=" .. form_escape(csrf))
  end
  return wrk.format("POST", "/api/v1/redemptions", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, '{"code": "' .. item[1] .. '"}')
end

function response(status, headers, body)
  if not exhausted then
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local merged, any_exhausted, total_sent = {}, false, 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
    any_exhausted = any_exhausted or thread:get("exhausted")
    total_sent = total_sent + thread:get("sent")
  end
  local parts = {}
  for status, count in pairs(merged) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "sent": %d, "duration_s": %.6f, "p50_ms": %.3f, ' ..
    '"p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "mean_ms": %.3f, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "timeouts": %d, "status_errors": %d, ' ..
    '"exhausted": %s, "statuses": {%s}}\n',
    summary.requests, total_sent, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    latency.mean / 1000, e.connect, e.read, e.write, e.timeout, e.status,
    tostring(any_exhausted), table.concat(parts, ", ")))
end
