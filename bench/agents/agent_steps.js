// bench/agents: the agent runtime's own time per step. A fake OpenAI-compatible upstream answers
// at once: a knowledge_search tool call when the last message is the user's, a final answer
// when it is a tool result — so each run is two model turns and one tool call. The runtime's own
// time of a run is latency - model time - tool time (the run's runtime_ms); per step = that / 2.
//
//   node agent_steps.js fake PORT
//   node agent_steps.js run SB_PORT RUNS
'use strict';
const http = require('http');

function completion(message) {
  return JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'fake',
    choices: [{ index: 0, message, finish_reason: message.tool_calls ? 'tool_calls' : 'stop' }],
    usage: { prompt_tokens: 50, completion_tokens: 10, total_tokens: 60 } });
}

function fake(port) {
  http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const msgs = JSON.parse(body).messages || [];
      const last = msgs[msgs.length - 1] || {};
      const out = last.role === 'tool'
        ? completion({ role: 'assistant', content: 'Align the peer dependency versions.' })
        : completion({ role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function',
            function: { name: 'knowledge_search', arguments: JSON.stringify({ query: 'ERESOLVE peer dependency' }) } }] });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(out) });
      res.end(out);
    });
  }).listen(port, '127.0.0.1');
}

function pct(sorted, p) { return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]; }

async function run(port, runs) {
  const base = `http://127.0.0.1:${port}`;
  const step = [], total = [], model = [], tool = [];
  for (let i = 0; i < runs; i++) {
    const r = await fetch(`${base}/api/v1/workflows/execute`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ agent: 'bench', input: `npm ci fails with ERESOLVE (${i})` }) });
    const v = await r.json();
    if (r.status !== 200 || v.finish_reason !== 'stop' || v.iterations !== 2) throw new Error(JSON.stringify(v).slice(0, 300));
    step.push(v.runtime_ms / v.iterations);
    total.push(v.latency_ms);
    model.push(v.model_ms);
    tool.push(v.tool_ms);
  }
  for (const a of [step, total, model, tool]) a.sort((x, y) => x - y);
  console.log(JSON.stringify({ runs, steps_per_run: 2,
    runtime_per_step_p50_ms: pct(step, 50), runtime_per_step_p99_ms: pct(step, 99),
    run_latency_p50_ms: pct(total, 50), model_time_p50_ms: pct(model, 50), tool_time_p50_ms: pct(tool, 50) }));
}

const [mode, a, b] = process.argv.slice(2);
if (mode === 'fake') fake(Number(a));
else run(Number(a), Number(b)).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
