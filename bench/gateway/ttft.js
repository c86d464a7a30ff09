// Time to first token: sequential streamed chat completions against one URL; prints
// "p50_us p99_us errors" for the time from sending the request to the first body byte.
// Usage: node ttft.js URL N [portkey_custom_host]
const http = require('http');
const [url, nArg, portkeyHost] = process.argv.slice(2);
const n = parseInt(nArg || '200', 10);
const body = JSON.stringify({
  model: 'bench/m', stream: true, max_tokens: 64,
  messages: [{ role: 'user', content: 'Say something short about foxes.' }],
});
const headers = { 'Content-Type': 'application/json', Authorization: 'Bearer bench-key' };
if (portkeyHost) {
  headers['x-portkey-provider'] = 'openai';
  headers['x-portkey-custom-host'] = portkeyHost;
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const times = [];
let errors = 0;
function one(i) {
  if (i >= n) {
    times.sort((a, b) => a - b);
    const pct = (p) => (times.length ? times[Math.min(times.length - 1, Math.floor(p * times.length))] : 0);
    console.log(`${Math.round(pct(0.5))} ${Math.round(pct(0.99))} ${errors}`);
    agent.destroy();
    return;
  }
  const t0 = process.hrtime.bigint();
  let first = true;
  const req = http.request(url, { method: 'POST', headers, agent }, (res) => {
    if (res.statusCode !== 200) errors++;
    res.on('data', () => {
      if (first) {
        first = false;
        times.push(Number(process.hrtime.bigint() - t0) / 1000);
      }
    });
    res.on('end', () => one(i + 1));
  });
  req.on('error', () => { errors++; one(i + 1); });
  req.end(body);
}
one(0);
