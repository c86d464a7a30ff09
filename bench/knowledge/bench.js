// bench/knowledge: one collection with 384-dimensional embeddings of the model MODEL (default
// mock/embed; run.sh sets a mock provider with embedding_rank), computed in the server, filled with
// SciFact abstracts and then texts of the same size made of their sentences recombined, until N
// chunks, indexed through POST /api/v1/index with 8 requests in flight. Then the SciFact queries
// (up to 1000) through POST /api/v1/search one at a time in keyword, semantic and hybrid mode, and
// vector recall@10 of the HNSW index against exact search ("exact": true) on 200 queries.
// SEARCH_ONLY=1 skips creating and filling the collection (a data dir kept from a run).
// Optionally (PDF_DOCS > 0) PDF ingestion: PDFs of 5 pages made from the same abstracts, uploaded
// as multipart with 8 in flight into a second collection.
// Prints one JSON line.
//   node bench.js PORT CORPUS_JSONL QUERIES_JSONL CHUNKS COLLECTION [PDF_DOCS]
'use strict';
const fs = require('fs');
const http = require('http');
const corpus = require('./corpus');

const [port, corpusPath, queriesPath, chunksArg, collection, pdfArg] = process.argv.slice(2);
const target = Number(chunksArg);
const pdfDocs = Number(pdfArg || 0);
const model = process.env.MODEL || 'mock/embed';
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function request(path, data, contentType) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: Number(port), method: 'POST', path, agent,
      headers: { 'content-type': contentType, 'content-length': data.length } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(data);
  });
}
const call = (path, body) => request(path, Buffer.from(JSON.stringify(body)), 'application/json');

function pct(sorted, p) { return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]; }

// A PDF with one Helvetica text line per page (what tests/support/documents.cpp builds).
function makePdf(pages) {
  const objects = [];
  const kids = pages.map((_, i) => `${4 + 2 * i} 0 R`).join(' ');
  objects.push('<< /Type /Catalog /Pages 2 0 R >>');
  objects.push(`<< /Type /Pages /Kids [${kids}] /Count ${pages.length} >>`);
  objects.push('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  pages.forEach((text, i) => {
    objects.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${5 + 2 * i} 0 R >>`);
    const esc = text.replace(/[^\x20-\x7e]/g, ' ').replace(/([()\\])/g, '\\$1');
    const stream = `BT /F1 12 Tf 72 720 Td (${esc}) Tj ET`;
    objects.push(`<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`);
  });
  let out = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((o, i) => { offsets.push(out.length); out += `${i + 1} 0 obj\n${o}\nendobj\n`; });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) out += `${String(off).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

function multipart(fields, filename, type, file) {
  const b = 'BenchBoundary7d1';
  const head = Object.entries(fields).map(([k, v]) => `--${b}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('') +
    `--${b}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`;
  return { body: Buffer.concat([Buffer.from(head), file, Buffer.from(`\r\n--${b}--\r\n`)]), type: `multipart/form-data; boundary=${b}` };
}

async function timed(fn) {
  const s = process.hrtime.bigint();
  const r = await fn();
  return [r, Number(process.hrtime.bigint() - s) / 1e6];
}

async function main() {
  const { docs, sentences } = corpus.load(corpusPath);
  const queries = fs.readFileSync(queriesPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).text).slice(0, 1000);
  // SEARCH_ONLY=1: the collection is there already (a kept data dir): measure search alone.
  const searchOnly = process.env.SEARCH_ONLY === '1';
  if (!searchOnly) {
    const r = await call('/api/v1/collections', { name: collection, embedding_model: model, dimensions: 384 });
    if (r.status !== 201) throw new Error(`collection: HTTP ${r.status} ${r.body}`);
  }
  const t0 = process.hrtime.bigint();
  let chunks = 0, bytes = 0, next = 0;
  if (!searchOnly) ({ chunks, bytes, documents: next } = await corpus.fill(call, { docs, sentences }, collection, target));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const out = { chunks, documents: next, ingest_s: secs, mb_per_s: bytes / 1e6 / secs, chunks_per_s: chunks / secs };

  // The first search of each kind opens the indexes (already open: ingestion kept them current
  // only once opened, so open them before measuring).
  for (const mode of ['keyword', 'semantic']) await call('/api/v1/search', { collection, query: 'warm up', mode });
  for (const mode of ['keyword', 'semantic', 'hybrid']) {
    const lat = [];
    for (const q of queries) {
      const [res, ms] = await timed(() => call('/api/v1/search', { collection, query: q, top_k: 10, mode }));
      if (res.status !== 200) throw new Error(`search: HTTP ${res.status} ${res.body}`);
      lat.push(ms);
    }
    lat.sort((a, b) => a - b);
    out[`${mode}_p50_ms`] = pct(lat, 0.5);
    out[`${mode}_p99_ms`] = pct(lat, 0.99);
  }

  // Recall@10 of the graph against exact search: an answer counts when its score reaches the
  // exact 10th score (less 1e-6), so equal scores are not counted as misses.
  // Also with a wider graph search (hnsw_ef = HIGH_EF, default 640): recall, and hybrid latency.
  // RECALL_QUERIES (default 500) queries.
  const highEf = Number(process.env.HIGH_EF || 640);
  let recall = 0, recallHigh = 0, n = 0;
  const exactLat = [];
  for (const q of queries.slice(0, Number(process.env.RECALL_QUERIES || 500))) {
    const ann = JSON.parse((await call('/api/v1/search', { collection, query: q, top_k: 10, mode: 'semantic' })).body).data;
    const wide = JSON.parse((await call('/api/v1/search', { collection, query: q, top_k: 10, mode: 'semantic', hnsw_ef: highEf })).body).data;
    const [ex, ms] = await timed(() => call('/api/v1/search', { collection, query: q, top_k: 10, mode: 'semantic', exact: true }));
    exactLat.push(ms);
    const exact = JSON.parse(ex.body).data;
    if (exact.length === 0) continue;
    const floor = exact[exact.length - 1].scores.semantic - 1e-6;
    recall += Math.min(ann.filter((h) => h.scores.semantic >= floor).length, exact.length) / exact.length;
    recallHigh += Math.min(wide.filter((h) => h.scores.semantic >= floor).length, exact.length) / exact.length;
    n++;
  }
  exactLat.sort((a, b) => a - b);
  out.recall10 = n ? recall / n : 0;
  out.high_ef = highEf;
  out.recall10_high_ef = n ? recallHigh / n : 0;
  out.exact_p50_ms = pct(exactLat, 0.5);
  const highLat = [];
  for (const q of queries) {
    const [res, ms] = await timed(() => call('/api/v1/search', { collection, query: q, top_k: 10, mode: 'hybrid', hnsw_ef: highEf }));
    if (res.status !== 200) throw new Error(`search: HTTP ${res.status} ${res.body}`);
    highLat.push(ms);
  }
  highLat.sort((a, b) => a - b);
  out.hybrid_high_ef_p50_ms = pct(highLat, 0.5);
  out.hybrid_high_ef_p99_ms = pct(highLat, 0.99);

  if (pdfDocs > 0) {
    const pdfCollection = `${collection}_pdf`;
    await call('/api/v1/collections', { name: pdfCollection, embedding_model: model, dimensions: 384 });
    const files = [];
    for (let i = 0; i < pdfDocs; i++) {
      const pages = Array.from({ length: 5 }, (_, p) => docs[(i * 5 + p) % docs.length].text);
      files.push(makePdf(pages));
    }
    let pdfBytes = 0, pdfChunks = 0, k = 0;
    const p0 = process.hrtime.bigint();
    async function uploader() {
      while (k < files.length) {
        const i = k++;
        const m = multipart({ collection: pdfCollection, id: `p${i}` }, `doc${i}.pdf`, 'application/pdf', files[i]);
        const res = await request('/api/v1/documents', m.body, m.type);
        if (res.status !== 201) throw new Error(`upload: HTTP ${res.status} ${res.body}`);
        pdfChunks += JSON.parse(res.body).chunks;
        pdfBytes += files[i].length;
      }
    }
    await Promise.all(Array.from({ length: 8 }, uploader));
    const ps = Number(process.hrtime.bigint() - p0) / 1e9;
    Object.assign(out, { pdf_docs: pdfDocs, pdf_mb_per_s: pdfBytes / 1e6 / ps, pdf_chunks_per_s: pdfChunks / ps,
      pdf_docs_per_s: pdfDocs / ps });
  }
  console.log(JSON.stringify(out));
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
