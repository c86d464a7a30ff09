// End to end over the translated providers: the official `openai` and `@anthropic-ai/sdk`
// packages against the binary, whose providers are a fake Anthropic and a fake Gemini upstream
// run here (each answering in its own wire format, whole and streamed, text and tool calls).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSwitchboard, startUpstream } from './support.mjs';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

let switchboard, upstream, openai, anthropic;
const seen = [];
const sse = (events) => events.map(([name, data]) => (name ? `event: ${name}\n` : '') + `data: ${JSON.stringify(data)}\n\n`).join('');

function anthropicAnswer(body) {
  const tool = body.tools && body.tools.length > 0;
  if (body.stream) {
    const events = [['message_start', { type: 'message_start', message: { id: 'msg_up', type: 'message', role: 'assistant',
      model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 7, output_tokens: 1 } } }]];
    if (tool) {
      events.push(['content_block_start', { type: 'content_block_start', index: 0,
        content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} } }]);
      events.push(['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"city":"Oslo"}' } }]);
    } else {
      events.push(['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }]);
      events.push(['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi from ' } }]);
      events.push(['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Claude' } }]);
    }
    events.push(['content_block_stop', { type: 'content_block_stop', index: 0 }]);
    events.push(['message_delta', { type: 'message_delta', delta: { stop_reason: tool ? 'tool_use' : 'end_turn', stop_sequence: null },
      usage: { output_tokens: 3 } }]);
    events.push(['message_stop', { type: 'message_stop' }]);
    return { type: 'text/event-stream', text: sse(events) };
  }
  const content = tool ? [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } }]
    : [{ type: 'text', text: 'Hi from Claude' }];
  return { type: 'application/json', text: JSON.stringify({ id: 'msg_up', type: 'message', role: 'assistant', model: body.model,
    content, stop_reason: tool ? 'tool_use' : 'end_turn', stop_sequence: null, usage: { input_tokens: 7, output_tokens: 3 } }) };
}

function geminiAnswer(body, stream) {
  const tool = body.tools && body.tools.length > 0;
  const usage = { promptTokenCount: 5, candidatesTokenCount: 3, totalTokenCount: 8 };
  const parts = tool ? [{ functionCall: { name: 'get_weather', args: { city: 'Oslo' } } }] : [{ text: 'Hi from Gemini' }];
  if (stream) {
    const chunks = tool ? [{ candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }], usageMetadata: usage }]
      : [{ candidates: [{ content: { role: 'model', parts: [{ text: 'Hi from ' }] }, index: 0 }] },
        { candidates: [{ content: { role: 'model', parts: [{ text: 'Gemini' }] }, finishReason: 'STOP', index: 0 }], usageMetadata: usage }];
    return { type: 'text/event-stream', text: sse(chunks.map((c) => [null, c])) };
  }
  return { type: 'application/json', text: JSON.stringify({ candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }],
    usageMetadata: usage, modelVersion: 'gemini-up', responseId: 'r1' }) };
}

before(async () => {
  let base;
  ({ server: upstream, base } = await startUpstream((req, body) => {
    seen.push({ url: req.url, headers: req.headers, body });
    if (req.url.startsWith('/anthropic/')) return anthropicAnswer(body);
    return geminiAnswer(body, req.url.includes(':streamGenerateContent'));
  }));
  const sb = await startSwitchboard(`
[gateway]
max_retries = 0
[[providers]]
name = "claude"
type = "anthropic"
base_url = "${base}/anthropic/v1"
[[providers]]
name = "gem"
type = "gemini"
base_url = "${base}/gemini/v1beta"
`);
  switchboard = sb;
  const port = sb.port;
  openai = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'unused', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: `http://127.0.0.1:${port}`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  switchboard?.stop();
  upstream?.close();
});

const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

for (const [model, greeting] of [['claude/claude-3-5-haiku', 'Hi from Claude'], ['gem/gemini-2.0-flash', 'Hi from Gemini']]) {
  test(`openai chat.completions over ${model}: whole, streamed, a tool`, async () => {
    const r = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(r.choices[0].message.content, greeting);
    assert.equal(r.model, model);
    const stream = await openai.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'Hi' }] });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    assert.equal(text, greeting);
    const t = await openai.chat.completions.create({ model, tools, messages: [{ role: 'user', content: 'Weather?' }] });
    assert.equal(t.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(JSON.parse(t.choices[0].message.tool_calls[0].function.arguments), { city: 'Oslo' });
  });

  test(`openai responses.create over ${model}`, async () => {
    const r = await openai.responses.create({ model, input: 'Hi' });
    assert.equal(r.output_text, greeting);
  });

  test(`anthropic messages over ${model}: whole, streamed, a tool`, async () => {
    const m = await anthropic.messages.create({ model, max_tokens: 32, messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(m.content[0].text, greeting);
    const final = await anthropic.messages.stream({ model, max_tokens: 32, messages: [{ role: 'user', content: 'Hi' }] }).finalMessage();
    assert.equal(final.content[0].text, greeting);
    const t = await anthropic.messages.create({ model, max_tokens: 32, messages: [{ role: 'user', content: 'Weather?' }],
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }] });
    assert.equal(t.stop_reason, 'tool_use');
    assert.deepEqual(t.content.find((b) => b.type === 'tool_use').input, { city: 'Oslo' });
  });
}

test('the native upstreams got their own wire formats', () => {
  assert.ok(seen.some((s) => s.url === '/anthropic/v1/messages' && s.headers['anthropic-version'] === '2023-06-01'));
  assert.ok(seen.some((s) => s.url.startsWith('/gemini/v1beta/models/gemini-2.0-flash:generateContent')));
  assert.ok(seen.some((s) => s.url.includes(':streamGenerateContent?alt=sse')));
});
