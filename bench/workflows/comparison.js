// bench/workflows: 10,000 pairwise comparisons through a fake upstream that answers every call
// after a fixed latency, run (a) as one Switchboard batch (POST /api/v1/comparison/batch, jobs
// running in the binary, completions counted on the live event stream) and (b) the seed's way:
// BullMQ jobs on redis-server, a Node worker calling the same fake with the same structured
// request and validating the answer. Prints one JSON line per mode.
//
//   node comparison.js fake PORT DELAY_MS            the fake upstream (counts calls; GET /count)
//   node comparison.js sb N SB_PORT                  Switchboard: batches of 1000 pairs, wait for N job.completed
//   node comparison.js bull N CONCURRENCY FAKE_PORT  BullMQ producer + worker (concurrency C)
'use strict';
const http = require('http');

const WHY = 'Essay A makes a clear claim and supports it with evidence; Essay B does not argue at all.';
const JUDGMENT = JSON.stringify({ winner: 'Essay A', justification: WHY, confidence: 4 });
const COMPLETION = JSON.stringify({
  id: 'chatcmpl-bench', object: 'chat.completion', created: 1700000000, model: 'judge',
  choices: [{ index: 0, message: { role: 'assistant', content: JUDGMENT }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 120, completion_tokens: 40, total_tokens: 160 },
});

function pair(i) {
  return { a: `Essay ${i}: cats are good companions because they are calm, clean and independent.`, b: `Essay ${i}: dogs.` };
}

// What the seed's worker sends: the same strict JSON schema Switchboard sends.
function judgeRequest(p) {
  return {
    model: 'judge',
    messages: [
      { role: 'system', content: 'You compare two texts and decide which is better. Answer with a JSON object.' },
      { role: 'user', content: `Essay A:\n${p.a}\n\nEssay B:\n${p.b}` },
    ],
    response_format: {
      type: 'json_schema',
      json_schema: {
        name: 'comparison', strict: true,
        schema: {
          type: 'object', additionalProperties: false, required: ['winner', 'justification', 'confidence'],
          properties: { winner: { type: 'string', enum: ['Essay A', 'Essay B'] }, justification: { type: 'string' }, confidence: { type: 'number' } },
        },
      },
    },
  };
}

function validate(j) {
  if (j.winner !== 'Essay A' && j.winner !== 'Essay B') throw new Error('bad winner');
  if (typeof j.justification !== 'string' || j.justification.length < 50 || j.justification.length > 500) throw new Error('bad justification');
  const c = Number(j.confidence);
  if (!(c >= 1 && c <= 5)) throw new Error('bad confidence');
  return { winner: j.winner, justification: j.justification, confidence: c, confidence_normalized: (c - 1) / 4 };
}

function fake(port, delay) {
  let calls = 0;
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/count') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ calls }));
      return;
    }
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      calls++;
      setTimeout(() => {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(COMPLETION) });
        res.end(COMPLETION);
      }, delay);
    });
  });
  server.keepAliveTimeout = 60000;
  server.maxConnections = 100000;
  server.listen(port, '127.0.0.1');
}

async function sb(n, port) {
  const base = `http://127.0.0.1:${port}`;
  // Completions counted on the live event stream (SSE), opened before anything is submitted.
  const ids = new Set();
  let done = 0, failed = 0, finish;
  const all = new Promise((r) => { finish = r; });
  const events = await fetch(`${base}/api/v1/events?type=job`);
  const reader = events.body.getReader();
  const dec = new TextDecoder();
  (async () => {
    let buf = '';
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      buf += dec.decode(value, { stream: true });
      let at;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        if (block.startsWith('event: job.completed')) done++;
        else if (block.startsWith('event: job.failed')) failed++;
        if (done + failed === n) finish();
      }
    }
  })();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i += 1000) {
    const pairs = [];
    for (let j = 0; j < 1000 && i + j < n; j++) pairs.push(pair(i + j));
    const r = await fetch(`${base}/api/v1/comparison/batch`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ model: 'fake/judge', pairs }),
    });
    if (r.status !== 202) throw new Error(`batch: ${r.status} ${await r.text()}`);
    const list = await r.json();
    for (const j of list.data) ids.add(j.id);
  }
  const submitted = Number(process.hrtime.bigint() - t0) / 1e9;
  await all;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  reader.cancel().catch(() => {});
  // Check a sample of results: validated judgments.
  let ok = 0;
  for (const id of [...ids].slice(0, 50)) {
    const r = await (await fetch(`${base}/api/v1/results/${id}`)).json();
    if (r.winner === 'Essay A' && r.confidence === 4) ok++;
  }
  return { mode: 'switchboard', n, per_s: n / secs, seconds: secs, submit_seconds: submitted, completed: done, failed, sample_valid: ok };
}

async function bull(n, concurrency, fakePort) {
  const { Queue, Worker } = require('bullmq');
  const connection = { host: '127.0.0.1', port: Number(process.env.REDIS_PORT || 16379), maxRetriesPerRequest: null };
  const name = `bench-comparison-${Date.now()}`;
  const queue = new Queue(name, { connection });
  await queue.waitUntilReady();
  let done = 0, failed = 0, finish;
  const all = new Promise((r) => { finish = r; });
  const url = `http://127.0.0.1:${fakePort}/v1/chat/completions`;
  const worker = new Worker(name, async (job) => {
    const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(judgeRequest(job.data)) });
    if (r.status !== 200) throw new Error(`upstream ${r.status}`);
    const answer = await r.json();
    return validate(JSON.parse(answer.choices[0].message.content));
  }, { connection, concurrency });
  worker.on('completed', () => { if (++done + failed === n) finish(); });
  worker.on('failed', () => { if (done + ++failed === n) finish(); });
  const opts = { removeOnComplete: false, removeOnFail: false, attempts: 3 };
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i += 1000) {
    const jobs = [];
    for (let j = 0; j < 1000 && i + j < n; j++) jobs.push({ name: 'comparison', data: pair(i + j), opts });
    await queue.addBulk(jobs);
  }
  const submitted = Number(process.hrtime.bigint() - t0) / 1e9;
  await all;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await worker.close();
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  return { mode: 'bullmq', n, concurrency, per_s: n / secs, seconds: secs, submit_seconds: submitted, completed: done, failed };
}

async function main() {
  const [mode, a, b, c] = process.argv.slice(2);
  if (mode === 'fake') return fake(Number(a), Number(b));
  let out;
  if (mode === 'sb') out = await sb(Number(a), Number(b));
  else if (mode === 'bull') out = await bull(Number(a), Number(b), Number(c));
  else throw new Error(`unknown mode ${mode}`);
  console.log(JSON.stringify(out));
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
