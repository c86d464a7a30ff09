// End to end: the official `openai` npm package as the client of the real switchboard binary.
// The binary (SB_BINARY) serves the embedded mock provider and an OpenAI-compatible fake
// upstream run here, which answers tool calls the way OpenAI does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSwitchboard, startUpstream } from './support.mjs';
import OpenAI from 'openai';

let switchboard;  // the switchboard process
let upstream;     // the fake OpenAI upstream
let client;
const upstreamSeen = [];

function toolCallAnswer(body) {
  if (body.stream) {
    const id = 'chatcmpl-tool';
    const chunk = (delta, finish = null) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: body.model,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
    return {
      type: 'text/event-stream',
      text: chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }) +
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }) +
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }) +
        chunk({}, 'tool_calls') + 'data: [DONE]\n\n',
    };
  }
  return {
    type: 'application/json',
    text: JSON.stringify({
      id: 'chatcmpl-tool', object: 'chat.completion', created: 1, model: body.model,
      choices: [{ index: 0, finish_reason: 'tool_calls', logprobs: null, message: {
        role: 'assistant', content: null, refusal: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] } }],
      usage: { prompt_tokens: 20, completion_tokens: 8, total_tokens: 28 },
    }),
  };
}

before(async () => {
  let up;
  ({ server: upstream, base: up } = await startUpstream((req, body) => {
    upstreamSeen.push(body);
    if (body.model === 'boom') {
      return { status: 500, type: 'application/json',
        text: JSON.stringify({ error: { message: 'the upstream broke', type: 'server_error' } }) };
    }
    return toolCallAnswer(body);
  }));
  const upstreamUrl = `${up}/v1`;

  const sb = await startSwitchboard(`
[gateway]
max_retries = 0
[[providers]]
name = "mock"
type = "mock"
models = ["echo"]
[[providers]]
name = "tools"
type = "openai"
base_url = "${upstreamUrl}"
`);
  switchboard = sb;
  const port = sb.port;
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  switchboard?.stop();
  upstream?.close();
});

test('non-streaming chat completion', async () => {
  const r = await client.chat.completions.create({
    model: 'mock/echo', messages: [{ role: 'user', content: 'hello there' }],
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.content, 'Mock reply to: hello there');
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('the raw response carries the switchboard headers', async () => {
  const { response } = await client.chat.completions
    .create({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] })
    .withResponse();
  assert.equal(response.headers.get('x-switchboard-provider'), 'mock');
  assert.equal(response.headers.get('x-switchboard-attempts'), '1');
  assert.match(response.headers.get('server-timing'), /^gateway;dur=\d+\.\d{3}, upstream;dur=/);
});

test('streaming with include_usage', async () => {
  const stream = await client.chat.completions.create({
    model: 'mock/echo', stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'one two three' }],
  });
  let text = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    if (chunk.choices.length) {
      text += chunk.choices[0].delta.content ?? '';
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, 'Mock reply to: one two three');
  assert.equal(finish, 'stop');
  assert.ok(usage && usage.completion_tokens === 6, JSON.stringify(usage));
});

test('tool calls, whole and streamed', async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const r = await client.chat.completions.create({
    model: 'tools/gpt-x', messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools, tool_choice: 'auto',
  });
  const call = r.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Oslo' });
  assert.deepEqual(upstreamSeen.at(-1).tools, tools, 'tools reach the upstream unchanged');
  assert.equal(upstreamSeen.at(-1).model, 'gpt-x');

  // The SDK's stream helper assembles streamed tool-call arguments by index.
  const runner = client.beta.chat.completions.stream({
    model: 'tools/gpt-x', messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools,
  });
  const final = await runner.finalChatCompletion();
  const streamed = final.choices[0].message.tool_calls[0];
  assert.equal(streamed.id, 'call_1');
  assert.deepEqual(JSON.parse(streamed.function.arguments), { city: 'Oslo' });
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
});

test('embeddings, float and the SDK default base64', async () => {
  const f = await client.embeddings.create({ model: 'mock/echo', input: ['a cat', 'a dog'], encoding_format: 'float', dimensions: 16 });
  assert.equal(f.data.length, 2);
  assert.equal(f.data[1].embedding.length, 16);
  const b = await client.embeddings.create({ model: 'mock/echo', input: 'a cat', dimensions: 16 });
  // The SDK asks for base64 and decodes it to floats: the same vector must come back.
  assert.equal(b.data[0].embedding.length, 16);
  for (let i = 0; i < 16; i++) assert.ok(Math.abs(b.data[0].embedding[i] - f.data[0].embedding[i]) < 1e-6);
});

test('errors arrive as the SDK error classes with the OpenAI fields', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'nope/x', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found' && e.param === 'model');
  await assert.rejects(
    client.chat.completions.create({ model: 'mock/echo', messages: 'hi' }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'messages');
  await assert.rejects(
    client.chat.completions.create({ model: 'tools/boom', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.InternalServerError && e.status === 502 && /the upstream broke/.test(e.message));
  await assert.rejects(
    client.embeddings.create({ model: 'mock/echo', input: [] }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'input');
});

test('models list', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('mock/echo'), ids.join(','));
});

test('models.retrieve, ids with a slash included', async () => {
  const m = await client.models.retrieve('mock/echo');
  assert.equal(m.id, 'mock/echo');
  assert.equal(m.object, 'model');
  assert.equal(m.owned_by, 'mock');
  await assert.rejects(client.models.retrieve('nope/x'), (e) => e instanceof OpenAI.NotFoundError);
});

test('the answer names the model the client asked for', async () => {
  const { data, response } = await client.chat.completions
    .create({ model: 'tools/gpt-4o', messages: [{ role: 'user', content: 'weather?' }] })
    .withResponse();
  assert.equal(data.model, 'tools/gpt-4o');
  assert.equal(response.headers.get('x-switchboard-model'), 'gpt-4o');
});

test('legacy completions, whole and streamed', async () => {
  const r = await client.completions.create({ model: 'mock/echo', prompt: 'Say hi', max_tokens: 5 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].text, 'Mock reply to: Say hi');
  assert.equal(r.model, 'mock/echo');
  const stream = await client.completions.create({ model: 'mock/echo', prompt: 'Say hi', stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
  assert.equal(text, 'Mock reply to: Say hi');
});

test('responses.create: text, whole and streamed', async () => {
  const r = await client.responses.create({ model: 'mock/echo', input: 'Hello there', instructions: 'Be brief.' });
  assert.equal(r.object, 'response');
  assert.equal(r.status, 'completed');
  assert.equal(r.output_text, 'Mock reply to: Hello there');
  assert.ok(r.usage.output_tokens > 0);
  const stream = await client.responses.create({
    model: 'mock/echo', stream: true,
    input: [{ role: 'user', content: [{ type: 'input_text', text: 'Stream me' }] }],
  });
  let text = '';
  let completed = null;
  for await (const event of stream) {
    if (event.type === 'response.output_text.delta') text += event.delta;
    if (event.type === 'response.completed') completed = event.response;
  }
  assert.equal(text, 'Mock reply to: Stream me');
  assert.equal(completed.output[0].content[0].text, 'Mock reply to: Stream me');
});

test('responses.create with a function tool, whole and streamed, and its output sent back', async () => {
  const tools = [{ type: 'function', name: 'get_weather', description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: false }];
  const r = await client.responses.create({ model: 'tools/gpt-4o', input: 'Weather in Oslo?', tools });
  const call = r.output.find((o) => o.type === 'function_call');
  assert.equal(call.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.arguments), { city: 'Oslo' });
  assert.equal(upstreamSeen[upstreamSeen.length - 1].tools[0].function.name, 'get_weather');

  const stream = await client.responses.create({ model: 'tools/gpt-4o', input: 'Weather in Oslo?', tools, stream: true });
  let args = '';
  let done = null;
  for await (const event of stream) {
    if (event.type === 'response.function_call_arguments.delta') args += event.delta;
    if (event.type === 'response.output_item.done') done = event.item;
  }
  assert.deepEqual(JSON.parse(args), { city: 'Oslo' });
  assert.equal(done.type, 'function_call');
  assert.equal(done.name, 'get_weather');

  await client.responses.create({
    model: 'tools/gpt-4o', tools,
    input: [{ role: 'user', content: 'Weather in Oslo?' },
      { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments },
      { type: 'function_call_output', call_id: call.call_id, output: 'sunny' }],
  });
  const back = upstreamSeen[upstreamSeen.length - 1];
  assert.equal(back.messages[1].tool_calls[0].id, call.call_id);
  assert.equal(back.messages[2].role, 'tool');
  assert.equal(back.messages[2].content, 'sunny');
});
