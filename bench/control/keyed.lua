-- wrk: the bench/gateway chat completion, each request with the next of SB_KEYS (a file of
-- secrets, one per line), or with no key when SB_KEYS is unset. SB_PATH=status polls
-- GET /api/v1/rate-limit/status instead.
local keys = {}
local file = os.getenv("SB_KEYS")
if file and file ~= "" then
  for line in io.lines(file) do keys[#keys + 1] = line end
end
local status = os.getenv("SB_PATH") == "status"
local body = '{"model":"bench/m","messages":[{"role":"system","content":"You are a benchmark."},'
  .. '{"role":"user","content":"Say something short about foxes."}],"temperature":0.2,"max_tokens":64}'
local i = math.random(1, math.max(#keys, 1))
request = function()
  local headers = {["Content-Type"] = "application/json"}
  if #keys > 0 then
    i = i % #keys + 1
    headers["Authorization"] = "Bearer " .. keys[i]
  end
  if status then return wrk.format("GET", "/api/v1/rate-limit/status", headers) end
  return wrk.format("POST", "/v1/chat/completions", headers, body)
end
