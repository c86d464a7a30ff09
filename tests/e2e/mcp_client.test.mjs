// End to end: Switchboard's agents as an MCP *client*. A small MCP server written here from the
// specification (Streamable HTTP, 2025-06-18: initialize with a session id, the initialized
// notification, tools/list, tools/call answered as server-sent events) provides a tool; a fake
// OpenAI upstream plays the model, asking for that tool and then answering.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startSwitchboard, startUpstream } from './support.mjs';

const seen = [];  // what the MCP server received: {method, session, version}
let mcp;
let model;
let switchboard;

function startMcpServer() {
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      if (req.method !== 'POST' || !(req.headers['content-type'] || '').startsWith('application/json')) {
        res.writeHead(405).end();
        return;
      }
      const accept = req.headers.accept || '';
      const msg = JSON.parse(raw);
      seen.push({ method: msg.method, session: req.headers['mcp-session-id'], version: req.headers['mcp-protocol-version'],
        acceptsBoth: accept.includes('application/json') && accept.includes('text/event-stream') });
      if (msg.id === undefined) {  // a notification
        res.writeHead(202).end();
        return;
      }
      if (msg.method !== 'initialize' && req.headers['mcp-session-id'] !== 'sess-42') {
        res.writeHead(400, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: -32600, message: 'no session' } }));
        return;
      }
      let result;
      if (msg.method === 'initialize') {
        result = { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'ops', version: '1.0.0' } };
      } else if (msg.method === 'tools/list') {
        result = { tools: [{ name: 'uptime', description: 'How long a service has been up',
          inputSchema: { type: 'object', properties: { service: { type: 'string' } }, required: ['service'] } }] };
      } else if (msg.method === 'tools/call') {
        const service = msg.params.arguments.service;
        result = { content: [{ type: 'text', text: `${service} up 41 days` }], isError: false };
        // Answered as a stream, as the transport allows.
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.end(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: msg.id, result })}\n\n`);
        return;
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'Method not found' } }));
        return;
      }
      const headers = { 'Content-Type': 'application/json' };
      if (msg.method === 'initialize') headers['Mcp-Session-Id'] = 'sess-42';
      res.writeHead(200, headers);
      res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, base: `http://127.0.0.1:${server.address().port}` })));
}

before(async () => {
  mcp = await startMcpServer();
  model = await startUpstream((req, body) => {
    const last = body.messages[body.messages.length - 1];
    const message = last.role === 'tool'
      ? { role: 'assistant', content: `The api: ${last.content}.` }
      : { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function',
          function: { name: 'ops__uptime', arguments: JSON.stringify({ service: 'api' }) } }] };
    return { type: 'application/json', text: JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: body.model,
      choices: [{ index: 0, message, finish_reason: message.tool_calls ? 'tool_calls' : 'stop' }],
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } }) };
  });
  switchboard = await startSwitchboard(`
[[providers]]
name = "oa"
type = "openai"
base_url = "${model.base}/v1"

[[tools]]
name = "ops"
type = "mcp"
url = "${mcp.base}/mcp"
allow_private = true

[[agents]]
name = "sre"
model = "oa/gpt-4o-mini"
tools = ["ops"]
`);
});

after(async () => {
  await switchboard.stop();
  mcp.server.close();
  model.server.close();
});

test('an agent calls a tool of an MCP server and answers with its result', async () => {
  const r = await fetch(`http://127.0.0.1:${switchboard.port}/api/v1/workflows/execute`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ agent: 'sre', input: 'How long has the api been up?' }) });
  const run = await r.json();
  assert.equal(r.status, 200, JSON.stringify(run));
  assert.equal(run.finish_reason, 'stop');
  assert.equal(run.output, 'The api: api up 41 days.');
  const result = run.steps.find((s) => s.type === 'tool_result');
  assert.equal(result.name, 'ops__uptime');
  assert.equal(result.ok, true);
  assert.deepEqual(seen.map((s) => s.method), ['initialize', 'notifications/initialized', 'tools/list', 'tools/call']);
  assert.equal(seen[0].session, undefined);
  for (const s of seen.slice(1)) {
    assert.equal(s.session, 'sess-42');
    assert.equal(s.version, '2025-06-18');
  }
  assert.ok(seen.every((s) => s.acceptsBoth));
});
