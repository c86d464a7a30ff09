// End to end: the official @modelcontextprotocol/sdk client against Switchboard's MCP server
// (POST /mcp, Streamable HTTP): initialize, tools/list, tools/call on the knowledge search, a
// document fetch and an agent, and the errors a client sees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startSwitchboard } from './support.mjs';

let switchboard;
let base;
let docId;

const toml = `
[[providers]]
name = "mock"
type = "mock"
models = ["echo", "embed"]

[[agents]]
name = "helper"
model = "mock/echo"
system_prompt = "You help."
`;

async function post(path, body, headers = {}) {
  const r = await fetch(base + path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.text() };
}

async function connect() {
  const client = new Client({ name: 'switchboard-e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(base + '/mcp')));
  return client;
}

before(async () => {
  switchboard = await startSwitchboard(toml);
  base = `http://127.0.0.1:${switchboard.port}`;
  assert.equal((await post('/api/v1/collections', { name: 'runbooks', embedding_model: 'mock/embed' })).status, 201);
  const d = await post('/api/v1/index', { collection: 'runbooks', external_id: 'npm', title: 'npm ERESOLVE',
    text: 'When npm ci fails with ERESOLVE, align the peer dependency versions.' });
  assert.equal(d.status, 201, d.body);
  docId = JSON.parse(d.body).id;
});

after(async () => {
  await switchboard.stop();
});

test('the SDK initializes and lists the knowledge tools and the agents', async () => {
  const client = await connect();
  assert.equal(client.getServerVersion().name, 'switchboard');
  assert.ok(client.getServerCapabilities().tools);
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  assert.deepEqual(names, ['agent_helper', 'get_document', 'knowledge_search']);
  const search = tools.find((t) => t.name === 'knowledge_search');
  assert.deepEqual(search.inputSchema.required.sort(), ['collection', 'query']);
  await client.close();
});

test('tools/call searches, reads a document and runs an agent', async () => {
  const client = await connect();
  const found = await client.callTool({ name: 'knowledge_search', arguments: { collection: 'runbooks', query: 'ERESOLVE peer dependency' } });
  assert.equal(found.isError, false);
  const hits = JSON.parse(found.content[0].text);
  assert.equal(hits.results[0].title, 'npm ERESOLVE');
  assert.equal(hits.results[0].document_id, docId);

  const doc = await client.callTool({ name: 'get_document', arguments: { id: docId } });
  assert.match(JSON.parse(doc.content[0].text).text, /align the peer dependency versions/);

  const ran = await client.callTool({ name: 'agent_helper', arguments: { input: 'Say hi' } });
  assert.equal(ran.isError, false);
  assert.equal(ran.content[0].text, 'Mock reply to: Say hi');

  const missing = await client.callTool({ name: 'get_document', arguments: { id: 'doc_nope' } });
  assert.equal(missing.isError, true);
  await assert.rejects(client.callTool({ name: 'rm_rf', arguments: {} }), /Unknown tool/);
  await client.close();
});

test('the transport refuses what is not a JSON-RPC message over JSON', async () => {
  const bad = await post('/mcp', { jsonrpc: '1.0', id: 1, method: 'ping' });
  assert.equal(JSON.parse(bad.body).error.code, -32600);
  const batch = await post('/mcp', [{ jsonrpc: '2.0', id: 1, method: 'ping' }]);
  assert.equal(JSON.parse(batch.body).error.code, -32600);
  const unknown = await post('/mcp', { jsonrpc: '2.0', id: 7, method: 'sampling/createMessage' });
  assert.equal(JSON.parse(unknown.body).error.code, -32601);
  assert.equal(JSON.parse(unknown.body).id, 7);
  const text = await fetch(base + '/mcp', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{}' });
  assert.equal(text.status, 415);
  const version = await post('/mcp', { jsonrpc: '2.0', id: 1, method: 'ping' }, { 'MCP-Protocol-Version': '1999-01-01' });
  assert.equal(version.status, 400);
  const get = await fetch(base + '/mcp');
  assert.equal(get.status, 405);
  const note = await post('/mcp', { jsonrpc: '2.0', method: 'notifications/initialized' });
  assert.equal(note.status, 202);
  assert.equal(note.body, '');
});
