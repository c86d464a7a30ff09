// bench/knowledge A/B: the same search requests against two running servers (e.g. two builds on
// copies of one data dir), interleaved in blocks of 50 queries so that the machine's noise falls
// on both alike. Prints, per mode, p50 and p99 of each server and their ratio, as one JSON line.
// EXTRA='{"hnsw_ef":512}' adds fields to every search.
//   node ab.js PORT_A PORT_B COLLECTION QUERIES_JSONL [MODES=keyword,semantic,hybrid] [ROUNDS=3]
'use strict';
const fs = require('fs');
const http = require('http');

const [portA, portB, collection, queriesPath, modesArg, roundsArg] = process.argv.slice(2);
const modes = (modesArg || 'keyword,semantic,hybrid').split(',');
const rounds = Number(roundsArg || 3);
const extra = JSON.parse(process.env.EXTRA || '{}');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(port, body) {
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: Number(port), method: 'POST', path: '/api/v1/search', agent,
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
  const queries = fs.readFileSync(queriesPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).text).slice(0, 1000);
  const out = {};
  for (const port of [portA, portB]) {
    for (const mode of ['keyword', 'semantic']) await call(port, { collection, query: 'warm up', mode });
  }
  for (const mode of modes) {
    const lat = { a: [], b: [] };
    for (let r = 0; r < rounds; r++) {
      for (let start = 0; start < queries.length; start += 50) {
        const block = queries.slice(start, start + 50);
        // Alternate which server goes first in each block.
        const order = (start / 50 + r) % 2 === 0 ? [['a', portA], ['b', portB]] : [['b', portB], ['a', portA]];
        for (const [name, port] of order) {
          for (const q of block) {
            const s = process.hrtime.bigint();
            const res = await call(port, { collection, query: q, top_k: 10, mode, ...extra });
            lat[name].push(Number(process.hrtime.bigint() - s) / 1e6);
            if (res.status !== 200) throw new Error(`search ${name}: HTTP ${res.status} ${res.body}`);
          }
        }
      }
    }
    for (const name of ['a', 'b']) lat[name].sort((x, y) => x - y);
    const row = {
      a_p50: pct(lat.a, 0.5), a_p99: pct(lat.a, 0.99),
      b_p50: pct(lat.b, 0.5), b_p99: pct(lat.b, 0.99),
    };
    row.p50_b_over_a = row.b_p50 / row.a_p50;
    row.p99_b_over_a = row.b_p99 / row.a_p99;
    for (const k of Object.keys(row)) row[k] = Number(row[k].toFixed(3));
    out[mode] = row;
  }
  console.log(JSON.stringify(out));
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
