// bench/knowledge: indexes SciFact abstracts (cycled until N chunks) through POST /api/v1/index
// with 8 requests in flight, then runs the SciFact queries through POST /api/v1/search (keyword)
// one at a time. Prints one JSON line: ingestion MB/s and chunks/s, search p50/p99 ms.
//   node bench.js PORT CORPUS_JSONL QUERIES_JSONL CHUNKS COLLECTION
'use strict';
const fs = require('fs');
const http = require('http');

const [port, corpusPath, queriesPath, chunksArg, collection] = process.argv.slice(2);
const target = Number(chunksArg);
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function call(path, body) {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = http.request({ host: '127.0.0.1', port: Number(port), method: 'POST', path, agent,
      headers: { 'content-type': 'application/json', 'content-length': data.length } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

function pct(sorted, p) { return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]; }

async function main() {
  const docs = fs.readFileSync(corpusPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const queries = fs.readFileSync(queriesPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).text);
  await call('/api/v1/collections', { name: collection });
  let chunks = 0, bytes = 0, next = 0;
  const t0 = process.hrtime.bigint();
  async function worker() {
    while (chunks < target) {
      const i = next++;
      const d = docs[i % docs.length];
      const content = d.text + (i >= docs.length ? ` copy${Math.floor(i / docs.length)}` : '');
      const r = await call('/api/v1/index', { collection, id: `d${i}`, title: d.title, content });
      if (r.status !== 201) throw new Error(`index: HTTP ${r.status} ${r.body}`);
      chunks += JSON.parse(r.body).chunks;
      bytes += content.length + d.title.length;
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const lat = [];
  for (const q of queries.slice(0, 1000)) {
    const s = process.hrtime.bigint();
    const r = await call('/api/v1/search', { collection, query: q, top_k: 10, mode: 'keyword' });
    if (r.status !== 200) throw new Error(`search: HTTP ${r.status} ${r.body}`);
    lat.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  lat.sort((a, b) => a - b);
  console.log(JSON.stringify({ chunks, documents: next, ingest_s: secs, mb_per_s: bytes / 1e6 / secs,
    chunks_per_s: chunks / secs, search_n: lat.length, p50_ms: pct(lat, 0.5), p99_ms: pct(lat, 0.99) }));
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
