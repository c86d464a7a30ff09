// End to end: the official `openai` npm package talks to an assistant ("assistant/<name>"),
// whole and streamed, against a fake upstream; the answer's citations ride along on the
// message (whole) or on the final chunk (stream) without bothering the SDK.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSwitchboard, startUpstream } from './support.mjs';
import OpenAI from 'openai';

let switchboard;
let upstream;
let client;
let base;

const chunk = (delta, finish = null) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1,
  model: 'gpt', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

before(async () => {
  upstream = await startUpstream((req, body) => {
    if (body.stream) {
      return { type: 'text/event-stream', text: chunk({ role: 'assistant', content: '' }) + chunk({ content: 'Owls hunt [' }) +
        chunk({ content: '1] at night [9].' }) + chunk({}, 'stop') +
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt', choices: [],
          usage: { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16 } })}\n\ndata: [DONE]\n\n` };
    }
    return { type: 'application/json', text: JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'gpt',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Foxes are red [1] [4].' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 10, completion_tokens: 6, total_tokens: 16 } }) };
  });
  switchboard = await startSwitchboard(`[[providers]]\nname = "fake"\ntype = "openai"\nbase_url = "${upstream.base}/v1"\n` +
    '[[providers]]\nname = "mock"\ntype = "mock"\n' +
    '[[assistants]]\nname = "docs"\ncollections = ["kb"]\nmodel = "fake/gpt"\nmode = "keyword"\n');
  base = `http://127.0.0.1:${switchboard.port}`;
  const post = (path, body) => fetch(`${base}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body) });
  assert.equal((await post('/api/v1/collections', { name: 'kb' })).status, 201);
  assert.equal((await post('/api/v1/index', { collection: 'kb', title: 'Foxes', text: 'Foxes are red. Owls hunt at night.' })).status, 201);
  client = new OpenAI({ apiKey: 'unused', baseURL: `${base}/v1`, maxRetries: 0 });
});

after(async () => {
  await switchboard?.stop();
  upstream?.server.close();
});

test('the SDK lists the assistant and gets its answer with citations', async () => {
  const models = await client.models.list();
  assert.ok(models.data.some((m) => m.id === 'assistant/docs'));
  const r = await client.chat.completions.create({ model: 'assistant/docs', messages: [{ role: 'user', content: 'are foxes red?' }] });
  assert.equal(r.model, 'assistant/docs');
  assert.equal(r.choices[0].message.content, 'Foxes are red [1] .');
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.choices[0].message.citations.length, 1);
  assert.equal(r.choices[0].message.citations[0].n, 1);
  assert.equal(r.choices[0].message.citations[0].title, 'Foxes');
  assert.equal(r.usage.total_tokens, 16);
  assert.match(r.conversation_id, /^conv_/);
});

test('the SDK streams the answer; the final chunk carries the citations', async () => {
  const stream = await client.chat.completions.create({ model: 'assistant/docs', stream: true,
    stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'do owls hunt at night?' }] });
  let text = '';
  let citations;
  let usage;
  for await (const c of stream) {
    if (c.choices.length) text += c.choices[0].delta.content ?? '';
    if (c.citations) citations = c.citations;
    if (c.usage) usage = c.usage;
  }
  assert.equal(text, 'Owls hunt [1] at night .');
  assert.equal(citations.length, 1);
  assert.equal(citations[0].title, 'Foxes');
  assert.equal(usage.total_tokens, 16);
  // The SDK's stream helper assembles the same message.
  const helper = (client.chat.completions.stream ? client.chat.completions : client.beta.chat.completions).stream({ model: 'assistant/docs', messages: [{ role: 'user', content: 'do owls hunt at night?' }] });
  const final = await helper.finalChatCompletion();
  assert.equal(final.choices[0].message.content, 'Owls hunt [1] at night .');
});
