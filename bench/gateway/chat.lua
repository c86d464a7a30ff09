-- wrk: POST a chat completion. Environment: SB_MODEL (model name), SB_STREAM=1 for stream:true,
-- SB_PORTKEY_HOST (adds Portkey's routing headers for that upstream), SB_CHUNK_DELAY_MS.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-key"
local host = os.getenv("SB_PORTKEY_HOST")
if host and host ~= "" then
  wrk.headers["x-portkey-provider"] = "openai"
  wrk.headers["x-portkey-custom-host"] = host
end
local stream = os.getenv("SB_STREAM") == "1"
local delay = tonumber(os.getenv("SB_CHUNK_DELAY_MS") or "0")
wrk.body = '{"model":"' .. (os.getenv("SB_MODEL") or "bench/m") .. '","messages":[{"role":"system","content":"You are a benchmark."},{"role":"user","content":"Say something short about foxes."}],"temperature":0.2,"max_tokens":64'
  .. (stream and ',"stream":true' or '')
  .. (delay > 0 and (',"x_chunk_delay_ms":' .. delay) or '') .. '}'
