-- wrk scenario for todo-api. SCENARIO (list|get|toggle|create|delete|mixed|url) and USERS (the
-- file bench/seed.py wrote) come from the environment. Prints one JSON line when done.
-- delete removes the tasks DELETE_FIRST, DELETE_FIRST + 1, ... of user DELETE_USER
-- (authorization DELETE_AUTH), one per request; url GETs URL_PATH with URL_AUTH (and
-- URL_PREFER as Prefer, when set).
local scenario = os.getenv("SCENARIO") or "list"
local readers, writers = {}, {}

local function split(s, sep)
  local out = {}
  for piece in string.gmatch(s, "([^" .. sep .. "]+)") do out[#out + 1] = piece end
  return out
end

for line in io.lines(os.getenv("USERS")) do
  local f = split(line, " ")
  local user = { id = f[2], auth = "Bearer " .. f[3], tasks = f[4] ~= "-" and split(f[4], ",") or {} }
  if f[1] == "reader" then readers[#readers + 1] = user else writers[#writers + 1] = user end
end

local counter = 0

local function pick(list) return list[math.random(#list)] end

local function list_tasks()
  local u = pick(readers)
  return wrk.format("GET", "/api/" .. u.id .. "/tasks", { ["Authorization"] = u.auth })
end

local function get_task()
  local u = pick(readers)
  return wrk.format("GET", "/api/" .. u.id .. "/tasks/" .. pick(u.tasks), { ["Authorization"] = u.auth })
end

local function toggle_task()
  local u = pick(readers)
  return wrk.format("PATCH", "/api/" .. u.id .. "/tasks/" .. pick(u.tasks) .. "/complete",
    { ["Authorization"] = u.auth })
end

local function create_task()
  local u = pick(writers)
  counter = counter + 1
  return wrk.format("POST", "/api/" .. u.id .. "/tasks",
    { ["Authorization"] = u.auth, ["Content-Type"] = "application/json" },
    '{"title":"bench ' .. counter .. '","priority":"High","tags":"bench"}')
end

local deleted = 0

local function delete_task()
  local id = tonumber(os.getenv("DELETE_FIRST")) + deleted
  deleted = deleted + 1
  return wrk.format("DELETE", "/api/" .. os.getenv("DELETE_USER") .. "/tasks/" .. id,
    { ["Authorization"] = os.getenv("DELETE_AUTH") })
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  if scenario == "list" then return list_tasks()
  elseif scenario == "get" then return get_task()
  elseif scenario == "toggle" then return toggle_task()
  elseif scenario == "create" then return create_task()
  elseif scenario == "delete" then return delete_task()
  elseif scenario == "url" then
    local headers = { ["Authorization"] = os.getenv("URL_AUTH") }
    local prefer = os.getenv("URL_PREFER")
    if prefer and prefer ~= "" then headers["Prefer"] = prefer end
    return wrk.format("GET", os.getenv("URL_PATH"), headers)
  else
    local r = math.random()
    if r < 0.70 then return list_tasks()
    elseif r < 0.85 then return create_task()
    elseif r < 0.95 then return toggle_task()
    else return get_task() end
  end
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    non2xx, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
