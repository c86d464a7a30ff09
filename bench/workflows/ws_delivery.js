// bench/workflows: N WebSocket subscribers on /api/v1/ws?type=job, then J jobs submitted one at
// a time (a pause between them); for every subscriber and job, the time from just before the
// job's POST to the subscriber receiving its job.queued event (the event is published when the
// job is durably queued, before the POST is answered). Also counts every event received (each
// job makes job.queued, job.processing, job.completed). Prints one JSON line.
// The clients run in this one Node process: its event loop is part of what is measured.
//
//   node --experimental-websocket ws_delivery.js SB_PORT SUBSCRIBERS JOBS PAUSE_MS
'use strict';

function pct(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0;
}

async function main() {
  const [portArg, subsArg, jobsArg, pauseArg] = process.argv.slice(2);
  const port = Number(portArg), subs = Number(subsArg), jobs = Number(jobsArg), pause = Number(pauseArg);
  const base = `http://127.0.0.1:${port}`;
  const received = new Map();  // job id -> [receipt times]
  let events = 0, closed = 0;
  const sockets = [];
  await Promise.all(Array.from({ length: subs }, () => new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/ws?type=job`);
    ws.onopen = () => resolve();
    ws.onerror = (e) => reject(new Error('websocket error'));
    ws.onclose = () => { closed++; };
    ws.onmessage = (m) => {
      const t = performance.now();
      events++;
      if (m.data.startsWith('{"type":"job.queued"')) {
        const id = JSON.parse(m.data).id;
        let l = received.get(id);
        if (!l) received.set(id, l = []);
        l.push(t);
      }
    };
    sockets.push(ws);
  })));
  const sent = new Map();
  const post = [];
  for (let i = 0; i < jobs; i++) {
    const t = performance.now();
    const r = await fetch(`${base}/api/v1/jobs`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'chat.completion', request: { model: 'mock/echo', messages: [{ role: 'user', content: `job ${i}` }] } }),
    });
    const j = await r.json();
    post.push(performance.now() - t);
    sent.set(j.id, t);
    await new Promise((res) => setTimeout(res, pause));
  }
  // Until every subscriber has every job's three events (or 30 s).
  const want = subs * jobs * 3;
  const until = Date.now() + 30000;
  while (events < want && Date.now() < until) await new Promise((res) => setTimeout(res, 50));
  const lat = [];
  let missing = 0;
  for (const [id, t0] of sent) {
    const l = received.get(id) || [];
    missing += subs - l.length;
    for (const t of l) lat.push(t - t0);
  }
  lat.sort((a, b) => a - b);
  post.sort((a, b) => a - b);
  for (const ws of sockets) ws.close();
  console.log(JSON.stringify({
    subscribers: subs, jobs, events_received: events, events_expected: want, missing_queued: missing, closed_early: closed,
    delivery_p50_ms: pct(lat, 50), delivery_p99_ms: pct(lat, 99), delivery_max_ms: lat[lat.length - 1],
    post_p50_ms: pct(post, 50), post_p99_ms: pct(post, 99),
  }));
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
