// End to end: the official `@anthropic-ai/sdk` npm package as the client of the real switchboard
// binary's POST /v1/messages, over the embedded mock provider and over an OpenAI-compatible fake
// upstream run here that answers tool calls the way OpenAI does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSwitchboard, startUpstream } from './support.mjs';
import Anthropic from '@anthropic-ai/sdk';

let switchboard;
let upstream;
let client;
const upstreamSeen = [];

function toolCallAnswer(body) {
  const id = 'chatcmpl-tool';
  if (body.stream) {
    const chunk = (delta, finish = null) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: body.model,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
    return {
      type: 'text/event-stream',
      text: chunk({ role: 'assistant', content: 'Let me look.' }) +
        chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }) +
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }) +
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }) +
        chunk({}, 'tool_calls') +
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: body.model, choices: [],
          usage: { prompt_tokens: 20, completion_tokens: 8, total_tokens: 28 } })}\n\n` +
        'data: [DONE]\n\n',
    };
  }
  const last = body.messages[body.messages.length - 1];
  if (last.role === 'tool') {
    return { type: 'application/json', text: JSON.stringify({ id, object: 'chat.completion', created: 1, model: body.model,
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `It is ${last.content}.` } }],
      usage: { prompt_tokens: 30, completion_tokens: 5, total_tokens: 35 } }) };
  }
  return {
    type: 'application/json',
    text: JSON.stringify({
      id, object: 'chat.completion', created: 1, model: body.model,
      choices: [{ index: 0, finish_reason: 'tool_calls', message: {
        role: 'assistant', content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] } }],
      usage: { prompt_tokens: 20, completion_tokens: 8, total_tokens: 28 },
    }),
  };
}

before(async () => {
  let up;
  ({ server: upstream, base: up } = await startUpstream((req, body) => {
    upstreamSeen.push(body);
    return toolCallAnswer(body);
  }));
  const sb = await startSwitchboard(`
[auth]
api_keys = ["sk-e2e-anthropic"]
[gateway]
max_retries = 0
[[providers]]
name = "mock"
type = "mock"
models = ["echo"]
[[providers]]
name = "tools"
type = "openai"
base_url = "${up}/v1"
`);
  switchboard = sb;
  const port = sb.port;
  // The SDK sends the key as x-api-key, as it does to Anthropic.
  client = new Anthropic({ baseURL: `http://127.0.0.1:${port}`, apiKey: 'sk-e2e-anthropic', maxRetries: 0 });
});

after(async () => {
  switchboard?.stop();
  upstream?.close();
});

test('messages.create, whole, over the mock', async () => {
  const m = await client.messages.create({
    model: 'mock/echo', max_tokens: 64, system: 'Be brief.',
    messages: [{ role: 'user', content: 'Hello there' }],
  });
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.equal(m.model, 'mock/echo');
  assert.equal(m.content[0].type, 'text');
  assert.equal(m.content[0].text, 'Mock reply to: Hello there');
  assert.equal(m.stop_reason, 'end_turn');
  assert.ok(m.usage.output_tokens > 0);
});

test('messages.stream, over the mock', async () => {
  const stream = client.messages.stream({
    model: 'mock/echo', max_tokens: 64, messages: [{ role: 'user', content: [{ type: 'text', text: 'Stream me' }] }],
  });
  let text = '';
  stream.on('text', (t) => { text += t; });
  const final = await stream.finalMessage();
  assert.equal(text, 'Mock reply to: Stream me');
  assert.equal(final.content[0].text, 'Mock reply to: Stream me');
  assert.equal(final.stop_reason, 'end_turn');
});

const tools = [{
  name: 'get_weather', description: 'The weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
}];

test('a tool, whole, over an OpenAI-compatible upstream, and its result sent back', async () => {
  const m = await client.messages.create({
    model: 'tools/gpt-4o', max_tokens: 64, tools, tool_choice: { type: 'auto' },
    messages: [{ role: 'user', content: 'Weather in Oslo?' }],
  });
  assert.equal(m.stop_reason, 'tool_use');
  const use = m.content.find((b) => b.type === 'tool_use');
  assert.equal(use.name, 'get_weather');
  assert.deepEqual(use.input, { city: 'Oslo' });
  const sent = upstreamSeen[upstreamSeen.length - 1];
  assert.equal(sent.tools[0].function.name, 'get_weather');
  assert.deepEqual(sent.tools[0].function.parameters.required, ['city']);
  assert.equal(sent.tool_choice, 'auto');

  const answer = await client.messages.create({
    model: 'tools/gpt-4o', max_tokens: 64, tools,
    messages: [
      { role: 'user', content: 'Weather in Oslo?' },
      { role: 'assistant', content: m.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny' }] },
    ],
  });
  assert.equal(answer.content[0].text, 'It is sunny.');
  const back = upstreamSeen[upstreamSeen.length - 1];
  assert.equal(back.messages[1].role, 'assistant');
  assert.equal(back.messages[1].tool_calls[0].function.name, 'get_weather');
  assert.equal(back.messages[2].role, 'tool');
  assert.equal(back.messages[2].tool_call_id, 'call_1');
});

test('a tool, streamed', async () => {
  const stream = client.messages.stream({
    model: 'tools/gpt-4o', max_tokens: 64, tools, messages: [{ role: 'user', content: 'Weather in Oslo?' }],
  });
  const final = await stream.finalMessage();
  assert.equal(final.stop_reason, 'tool_use');
  assert.equal(final.content[0].type, 'text');
  assert.equal(final.content[0].text, 'Let me look.');
  assert.equal(final.content[1].type, 'tool_use');
  assert.deepEqual(final.content[1].input, { city: 'Oslo' });
  assert.equal(final.usage.output_tokens, 8);
});

test('errors arrive as the SDK error classes', async () => {
  await assert.rejects(
    client.messages.create({ model: 'nope/x', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.NotFoundError);
  await assert.rejects(
    client.messages.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.BadRequestError && /max_tokens/.test(e.message));
  const wrongKey = new Anthropic({ baseURL: client.baseURL, apiKey: 'sk-wrong', maxRetries: 0 });
  await assert.rejects(
    wrongKey.messages.create({ model: 'mock/echo', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.AuthenticationError);
});
