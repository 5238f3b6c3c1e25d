-- wrk script for the write cases. Env: TOKEN, MODE (create|create_spread|patch|set_usage), BODY
-- (create), UUIDS (file of policy uuids, patch); create_spread: SCOPES (file of customer URLs),
-- COMPONENT; set_usage: RESOURCES (how many seeded resources), DATES (comma
-- separated dates, one per seeded month, newest first), COMPONENT_TYPE.
local token = os.getenv("TOKEN")
local mode = os.getenv("MODE")
local body = os.getenv("BODY")
local uuids = {}
if mode == "patch" then
  for line in io.lines(os.getenv("UUIDS")) do uuids[#uuids + 1] = line end
end
-- create_spread: each create names the next of these customers, as staff tooling creating
-- policies for many organizations would; create piles them all onto one. Its limit is as high as
-- the seeded policies' (bench/seed.py), so that the usage the set_usage case seeds later for these
-- customers does not fire thousands of them in the middle of that case.
local scopes = {}
if mode == "create_spread" then
  for line in io.lines(os.getenv("SCOPES")) do scopes[#scopes + 1] = line end
end
local counter = 0

-- set_usage rotates over every (resource, month) pair: a stride prime to their count walks all of
-- them, each wrk thread starting at its own offset.
local resources = tonumber(os.getenv("RESOURCES") or "0")
local dates = {}
for d in string.gmatch(os.getenv("DATES") or "", "[^,]+") do dates[#dates + 1] = d end
local component_type = os.getenv("COMPONENT_TYPE") or "cpu_hours"
local stride = 7919
local run_offset = os.time() % 89 + 1
local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

-- PROCESS: which of several wrk processes (one per server instance) this is, so that they do not
-- send the same requests in step.
function init(args)
  counter = ((tonumber(os.getenv("PROCESS") or "0")) * 16 + (thread_index or 0)) * 100003
end

request = function()
  local headers = { ["Authorization"] = "Token " .. token, ["Content-Type"] = "application/json" }
  if mode == "create" then
    return wrk.format("POST", "/api/marketplace-customer-component-usage-policies/", headers, body)
  end
  counter = counter + 1
  if mode == "create_spread" then
    local spread = string.format(
      '{"scope": "%s", "actions": "request_pausing", "component_limits_set": [{"component": "%s", "limit": 100000, "period": 2}]}',
      scopes[(counter % #scopes) + 1], os.getenv("COMPONENT"))
    return wrk.format("POST", "/api/marketplace-customer-component-usage-policies/", headers, spread)
  end
  if mode == "set_usage" then
    local pair = (counter * stride) % (resources * #dates)
    local resource = pair % resources + 1
    local date = dates[math.floor(pair / resources) + 1]
    -- The run's own offset, so a repeated run replaces every amount with a different one: a
    -- report that repeats the month's amount takes a shorter path and would flatter the figures.
    local amount = string.format("%d.%02d", 1 + counter % 5, (counter + run_offset) % 100)
    local report = string.format(
      '{"resource": "%08x%024x", "date": "%s", "usages": [{"type": "%s", "amount": "%s"}]}',
      0xbe0b, resource, date, component_type, amount)
    return wrk.format("POST", "/api/marketplace-component-usages/set_usage/", headers, report)
  end
  local uuid = uuids[(counter % #uuids) + 1]
  local patch = '{"actions": "notify_organization_owners,request_pausing", "options": {}}'
  return wrk.format("PATCH", "/api/marketplace-customer-component-usage-policies/" .. uuid .. "/", headers, patch)
end
