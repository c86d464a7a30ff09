// bench/jobs peer: BullMQ 6.7.0 against redis-server (AOF everysec), producer and worker in one
// Node process, as in bullmq's own benchmarks. Prints one JSON line.
//   node bullmq.js enqueue-single N      sequential queue.add, latency per add
//   node bullmq.js enqueue-bulk N B      queue.addBulk in batches of B
//   node bullmq.js e2e N C               add N (addBulk, 1000 each) while a worker with
//                                         concurrency C runs a no-op processor; until all done
'use strict';
const { Queue, Worker } = require('bullmq');

const connection = { host: '127.0.0.1', port: Number(process.env.REDIS_PORT || 16379), maxRetriesPerRequest: null };
const payload = { model: 'mock/echo', messages: [{ role: 'user', content: 'hello from the job benchmark' }] };

function pct(sorted, p) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main() {
  const [mode, nArg, xArg] = process.argv.slice(2);
  const n = Number(nArg);
  const name = `bench-${mode}-${Date.now()}`;
  const queue = new Queue(name, { connection });
  await queue.waitUntilReady();
  const opts = { removeOnComplete: false, removeOnFail: false };
  let out;
  if (mode === 'enqueue-single') {
    const lat = [];
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const s = process.hrtime.bigint();
      await queue.add('chat.completion', payload, opts);
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    lat.sort((a, b) => a - b);
    out = { mode, n, per_s: n / secs, p50_ms: pct(lat, 50), p99_ms: pct(lat, 99) };
  } else if (mode === 'enqueue-bulk') {
    const b = Number(xArg);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i += b) {
      const jobs = [];
      for (let j = 0; j < b && i + j < n; j++) jobs.push({ name: 'chat.completion', data: payload, opts });
      await queue.addBulk(jobs);
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    out = { mode, n, batch: b, per_s: n / secs };
  } else if (mode === 'e2e') {
    const c = Number(xArg);
    const waits = [];
    let done = 0;
    let finish;
    const all = new Promise((r) => { finish = r; });
    const t0 = process.hrtime.bigint();
    const worker = new Worker(name, async (job) => {
      waits.push(Date.now() - job.timestamp);
      return { ok: true };
    }, { connection, concurrency: c });
    worker.on('completed', () => { if (++done === n) finish(); });
    for (let i = 0; i < n; i += 1000) {
      const jobs = [];
      for (let j = 0; j < 1000 && i + j < n; j++) jobs.push({ name: 'chat.completion', data: payload, opts });
      await queue.addBulk(jobs);
    }
    await all;
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    await worker.close();
    waits.sort((a, b) => a - b);
    out = { mode, n, concurrency: c, per_s: n / secs, wait_p50_ms: pct(waits, 50), wait_p99_ms: pct(waits, 99) };
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  console.log(JSON.stringify(out));
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
