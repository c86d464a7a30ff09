-- wrk script: POST a small chat-shaped JSON body to the echo route.
wrk.method = "POST"
wrk.body = '{"model":"mock/echo","messages":[{"role":"user","content":"Hello, world"}],"temperature":0.2}'
wrk.headers["Content-Type"] = "application/json"
