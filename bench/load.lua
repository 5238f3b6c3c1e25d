-- wrk script for the write cases. Env: TOKEN, MODE (create|patch), BODY (create), UUIDS (file of
-- policy uuids, patch).
local token = os.getenv("TOKEN")
local mode = os.getenv("MODE")
local body = os.getenv("BODY")
local uuids = {}
if mode == "patch" then
  for line in io.lines(os.getenv("UUIDS")) do uuids[#uuids + 1] = line end
end
local counter = 0

request = function()
  local headers = { ["Authorization"] = "Token " .. token, ["Content-Type"] = "application/json" }
  if mode == "create" then
    return wrk.format("POST", "/api/marketplace-customer-component-usage-policies/", headers, body)
  end
  counter = counter + 1
  local uuid = uuids[(counter % #uuids) + 1]
  local patch = '{"actions": "notify_organization_owners,request_pausing", "options": {}}'
  return wrk.format("PATCH", "/api/marketplace-customer-component-usage-policies/" .. uuid .. "/", headers, patch)
end
