// bench/chat: Switchboard's own time per RAG turn, the response cache's hits, its hit rate on a
// replayed log of repeated questions, and the delay from a collection write to a fresh answer.
// The collection (CHUNKS chunks of SciFact text, bench/knowledge/corpus.js) is filled first; the
// assistant "bench" answers from it with a fast mock upstream (bench/gateway/mock_upstream.cpp).
// "Own time" is the Server-Timing `chat` entry: the whole turn (memory read, follow-up rewrite
// prompt, hybrid retrieval, prompt building, citation post-processing, the turn's write) minus
// the model's calls (`upstream`). Prints one JSON line.
//   node bench.js PORT CORPUS_JSONL QUERIES_JSONL CHUNKS
'use strict';
const fs = require('fs');
const http = require('http');
const corpus = require('../knowledge/corpus');

const [port, corpusPath, queriesPath, chunksArg] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function call(path, body, headers = {}) {
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port: Number(port), method: 'POST', path, agent,
      headers: { 'content-type': 'application/json', 'content-length': data.length, ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(), headers: res.headers,
        ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

function pct(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}
// Server-Timing: "chat;dur=1.234, retrieval;dur=..., upstream;dur=..." -> {chat, retrieval, upstream}
function timing(h) {
  const out = {};
  for (const part of String(h['server-timing'] || '').split(',')) {
    const m = part.trim().match(/^(\w+);dur=([\d.]+)/);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}
function check(r, what) {
  if (r.status !== 200) throw new Error(`${what}: HTTP ${r.status} ${r.body}`);
  return JSON.parse(r.body);
}

async function main() {
  const data = corpus.load(corpusPath);
  const queries = fs.readFileSync(queriesPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).text);
  const c = await call('/api/v1/collections', { name: 'bench', embedding_model: process.env.MODEL || 'bench/embed', dimensions: 384 });
  if (c.status !== 201) throw new Error(`collection: HTTP ${c.status} ${c.body}`);
  const t0 = process.hrtime.bigint();
  const filled = await corpus.fill((p, b) => call(p, b), data, 'bench', Number(chunksArg));
  const out = { chunks: filled.chunks, fill_s: Number(process.hrtime.bigint() - t0) / 1e9 };
  await call('/api/v1/search', { collection: 'bench', query: 'warm up', mode: 'hybrid' });

  // 1. Own time per turn, the cache off for it (no-store): SESSIONS conversations of TURNS turns
  // (the first a question, the next ones follow-ups: memory read, rewrite call, memory write).
  const sessions = Number(process.env.SESSIONS || 100), turns = Number(process.env.TURNS || 5);
  const own = [], retrieval = [], total = [];
  let q = 0;
  for (let s = 0; s < sessions; s++) {
    for (let t = 0; t < turns; t++) {
      const question = t === 0 ? queries[q++ % queries.length] : `and what about ${queries[q++ % queries.length].toLowerCase()}`;
      const r = await call('/api/v1/chat', { assistant: 'bench', question, session_id: `s${s}` }, { 'x-switchboard-cache': 'no-store' });
      check(r, 'chat');
      const st = timing(r.headers);
      own.push(st.chat); retrieval.push(st.retrieval); total.push(r.ms);
    }
  }
  Object.assign(out, { turns: own.length, own_p50_ms: pct(own, 0.5), own_p99_ms: pct(own, 0.99),
    retrieval_p50_ms: pct(retrieval, 0.5), retrieval_p99_ms: pct(retrieval, 0.99),
    client_p50_ms: pct(total, 0.5), client_p99_ms: pct(total, 0.99) });

  // 2. Cache hits: HITS distinct questions asked once (misses, stored), then again (hits).
  const hitsN = Number(process.env.HITS || 500);
  const fresh = queries.slice(0, hitsN).map((x) => `cache ${x}`);
  for (const question of fresh) check(await call('/api/v1/chat', { assistant: 'bench', question }), 'chat');
  const hitOwn = [], hitClient = [];
  let hits = 0;
  for (const question of fresh) {
    const r = await call('/api/v1/chat', { assistant: 'bench', question });
    check(r, 'chat');
    if (r.headers['x-switchboard-cache'] === 'hit') hits++;
    hitOwn.push(timing(r.headers).chat); hitClient.push(r.ms);
  }
  Object.assign(out, { hit_requests: fresh.length, hit_answers: hits, hit_own_p50_ms: pct(hitOwn, 0.5),
    hit_own_p99_ms: pct(hitOwn, 0.99), hit_client_p50_ms: pct(hitClient, 0.5), hit_client_p99_ms: pct(hitClient, 0.99) });

  // 3. A replayed log: LOG requests drawn from DISTINCT questions, a few asked far more often
  // than the rest (Zipf, s = 1, seeded), as users repeat the popular ones; each a new conversation.
  const logN = Number(process.env.LOG || 2000), distinct = Number(process.env.DISTINCT || 300);
  const weights = Array.from({ length: distinct }, (_, i) => 1 / (i + 1));
  const sum = weights.reduce((a, b) => a + b, 0);
  let x = 12345;
  const rand = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const seen = new Set();
  let logHits = 0;
  const l0 = process.hrtime.bigint();
  for (let i = 0; i < logN; i++) {
    let u = rand() * sum, k = 0;
    while (u > weights[k] && k < distinct - 1) u -= weights[k++];
    const question = `log ${queries[k % queries.length]}`;
    const r = await call('/api/v1/chat', { assistant: 'bench', question });
    check(r, 'chat');
    if (r.headers['x-switchboard-cache'] === 'hit') logHits++;
    seen.add(question);  // (by text: the query set repeats a few)
  }
  Object.assign(out, { log_requests: logN, log_distinct: seen.size, log_hits: logHits,
    log_hit_rate: logHits / logN, log_repeat_hit_rate: logHits / Math.max(1, logN - seen.size),
    log_s: Number(process.hrtime.bigint() - l0) / 1e9 });

  // 4. Invalidation: a cached question, a document written, the same question at once.
  const trials = Number(process.env.TRIALS || 20);
  let freshAfterWrite = 0;
  const delay = [];
  for (let i = 0; i < trials; i++) {
    const question = `invalidation ${queries[i % queries.length]}`;
    check(await call('/api/v1/chat', { assistant: 'bench', question }), 'chat');
    const warm = await call('/api/v1/chat', { assistant: 'bench', question });
    if (warm.headers['x-switchboard-cache'] !== 'hit') throw new Error('not cached before the write');
    const w = await call('/api/v1/index', { collection: 'bench', title: `new ${i}`, text: `${question} changed ${i}` });
    if (w.status !== 201) throw new Error(`index: HTTP ${w.status} ${w.body}`);
    const written = process.hrtime.bigint();
    const r = await call('/api/v1/chat', { assistant: 'bench', question });
    check(r, 'chat');
    if (r.headers['x-switchboard-cache'] === 'miss') freshAfterWrite++;
    delay.push(Number(process.hrtime.bigint() - written) / 1e6);
  }
  Object.assign(out, { invalidation_trials: trials, fresh_after_write: freshAfterWrite,
    write_to_fresh_answer_p50_ms: pct(delay, 0.5), write_to_fresh_answer_max_ms: pct(delay, 1) });
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e); process.exit(1); });
