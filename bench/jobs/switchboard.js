// bench/jobs: the same workloads against Switchboard's job API over HTTP (keep-alive).
// Prints one JSON line.
//   node switchboard.js enqueue-single N     sequential POST /api/v1/jobs, latency per request
//   node switchboard.js enqueue-batch N B    POST /api/v1/jobs/batch with B jobs each
//   node switchboard.js e2e N                submit N (batches of 1000) and wait until the
//                                            server has completed them all (its workers run with
//                                            the jobs.concurrency it was started with)
'use strict';
const http = require('http');

const port = Number(process.env.SB_PORT);
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const request = { model: 'mock/echo', messages: [{ role: 'user', content: 'hello from the job benchmark' }] };

function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request({ host: '127.0.0.1', port, method, path, agent,
      headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

function pct(sorted, p) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function completed() {
  const r = await call('GET', '/metrics');
  const m = r.body.match(/^switchboard_jobs_completed_total (\d+)/m);
  return m ? Number(m[1]) : 0;
}

async function submitBatches(n, b) {
  for (let i = 0; i < n; i += b) {
    const jobs = [];
    for (let j = 0; j < b && i + j < n; j++) jobs.push({ type: 'chat.completion', request });
    const r = await call('POST', '/api/v1/jobs/batch', { jobs });
    if (r.status !== 202) throw new Error(`batch: HTTP ${r.status} ${r.body}`);
  }
}

async function main() {
  const [mode, nArg, xArg] = process.argv.slice(2);
  const n = Number(nArg);
  let out;
  if (mode === 'enqueue-single') {
    const lat = [];
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const s = process.hrtime.bigint();
      const r = await call('POST', '/api/v1/jobs', { type: 'chat.completion', request });
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      if (r.status !== 202) throw new Error(`HTTP ${r.status} ${r.body}`);
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    lat.sort((a, b) => a - b);
    out = { mode, n, per_s: n / secs, p50_ms: pct(lat, 50), p99_ms: pct(lat, 99) };
  } else if (mode === 'enqueue-batch') {
    const b = Number(xArg);
    const t0 = process.hrtime.bigint();
    await submitBatches(n, b);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    out = { mode, n, batch: b, per_s: n / secs };
  } else if (mode === 'e2e') {
    const before = await completed();
    const t0 = process.hrtime.bigint();
    await submitBatches(n, 1000);
    while ((await completed()) - before < n) await new Promise((r) => setTimeout(r, 5));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    // Queue wait per job: started_at - created_at, from the API.
    const waits = [];
    let cursor = '';
    for (;;) {
      const r = JSON.parse((await call('GET', `/api/v1/jobs?status=completed&limit=100${cursor ? `&cursor=${cursor}` : ''}`)).body);
      for (const j of r.data) waits.push(Date.parse(j.started_at) - Date.parse(j.created_at));
      if (!r.has_more || waits.length >= n) break;
      cursor = r.next_cursor;
    }
    waits.sort((a, b) => a - b);
    out = { mode, n, per_s: n / secs, wait_p50_ms: pct(waits, 50), wait_p99_ms: pct(waits, 99) };
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  console.log(JSON.stringify(out));
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
