// The benchmark corpus of bench/knowledge and bench/chat: the SciFact abstracts, then
// abstract-sized texts of their sentences recombined (no near-duplicates: cycled copies tie in
// every ranking and crowd each other in the HNSW graph), indexed with 8 requests in flight.
'use strict';
const fs = require('fs');

function load(corpusPath) {
  const docs = fs.readFileSync(corpusPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const sentences = docs.flatMap((d) => d.text.split(/(?<=[.!?])\s+/)).filter((s) => s.length > 20);
  return { docs, sentences };
}

// A new abstract-sized text from sentences of other abstracts, by a fixed pseudo-random sequence.
function synthetic(sentences, i) {
  let x = (i * 2654435761) >>> 0;
  const out = [];
  let len = 0;
  while (len < 1200) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const s = sentences[x % sentences.length];
    out.push(s);
    len += s.length + 1;
  }
  return out.join(' ');
}

// Indexes documents into `collection` until it holds `target` chunks. call(path, body) -> {status, body}.
async function fill(call, corpus, collection, target) {
  const { docs, sentences } = corpus;
  let chunks = 0, bytes = 0, next = 0, skipped = 0;
  async function worker() {
    while (chunks < target) {
      const i = next++;
      const d = docs[i % docs.length];
      const content = i < docs.length ? d.text : synthetic(sentences, i);
      const res = await call('/api/v1/index', { collection, external_id: `d${i}`, title: d.title, text: content });
      if (res.status === 422) { skipped++; continue; }  // (an abstract with no text)
      if (res.status !== 201) throw new Error(`index: HTTP ${res.status} ${res.body}`);
      chunks += JSON.parse(res.body).chunks;
      bytes += content.length + d.title.length;
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker));
  return { chunks, documents: next - skipped, bytes, skipped };
}

module.exports = { load, synthetic, fill };
