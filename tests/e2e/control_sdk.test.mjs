// End to end: the official `openai` npm package against a key with a rate limit. It must see a
// RateLimitError carrying our message, and its retry must wait for our retry-after-ms.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSwitchboard } from './support.mjs';
import OpenAI from 'openai';

const admin = 'sb-e2e-admin-key';
let switchboard;
let base;
let secret;

before(async () => {
  switchboard = await startSwitchboard('[limits]\nusage_flush_ms = 100\n', { SWITCHBOARD_API_KEY: admin });
  base = `http://127.0.0.1:${switchboard.port}`;
  const r = await fetch(`${base}/api/v1/keys`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'sdk', scopes: ['chat'], rpm: 60 }),
  });
  assert.equal(r.status, 201);
  secret = (await r.json()).secret;
});

after(() => switchboard?.stop());  // (a promise: the test runner waits for it)

const ask = (client) => client.chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] });

test('a key over its rpm gets RateLimitError with our message, then the retry waits retry-after-ms', async () => {
  // Spend the burst (60) without the SDK.
  for (let i = 0; i < 60; i++) {
    const r = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await r.arrayBuffer();
    if (r.status === 429) break;  // (a slow machine refilled a little: spent anyway)
  }
  const noRetry = new OpenAI({ apiKey: secret, baseURL: `${base}/v1`, maxRetries: 0 });
  await assert.rejects(ask(noRetry), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError, `expected RateLimitError, got ${e?.constructor?.name}`);
    assert.equal(e.status, 429);
    assert.equal(e.code, 'rate_limit_exceeded');
    assert.match(e.message, /rpm 60 requests per minute/);
    assert.ok(Number(e.headers['retry-after-ms']) > 0 && Number(e.headers['retry-after-ms']) <= 1000);
    assert.equal(e.headers['x-ratelimit-limit-requests'], '60');
    return true;
  });

  // One request refills every second: the SDK's one retry, after waiting what we said, succeeds.
  await new Promise((r) => setTimeout(r, 1100));
  let refusedAt = 0;
  let retryAfterMs = 0;
  for (;;) {  // spend what refilled meanwhile; the last refusal says when the next request fits
    const r = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await r.arrayBuffer();
    if (r.status === 429) {
      refusedAt = Date.now();
      retryAfterMs = Number(r.headers.get('retry-after-ms'));
      break;
    }
  }
  const retrying = new OpenAI({ apiKey: secret, baseURL: `${base}/v1`, maxRetries: 1 });
  const t0 = Date.now();
  const { data, response } = await retrying.chat.completions
    .create({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] })
    .withResponse();
  const done = Date.now();
  assert.ok(data.choices[0].message.content.length > 0);
  // Its first try was refused (nothing refilled yet, unless the machine was slow); it then waited
  // what that refusal's retry-after-ms said, so it cannot have succeeded before the refill.
  assert.ok(done >= refusedAt + retryAfterMs - 20,
    `the SDK succeeded ${done - refusedAt} ms after a refusal saying ${retryAfterMs} ms`);
  assert.ok(done - t0 < 5000, `the SDK waited ${done - t0} ms`);
  assert.equal(response.headers.get('x-ratelimit-limit-requests'), '60');
});

test('an unknown key is AuthenticationError and a missing scope PermissionDeniedError', async () => {
  const bad = new OpenAI({ apiKey: 'sb-nope', baseURL: `${base}/v1`, maxRetries: 0 });
  await assert.rejects(ask(bad), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  const r = await fetch(`${base}/api/v1/keys`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'embed-only', scopes: ['embeddings'] }),
  });
  const embedOnly = new OpenAI({ apiKey: (await r.json()).secret, baseURL: `${base}/v1`, maxRetries: 0 });
  await assert.rejects(ask(embedOnly), (e) => {
    assert.ok(e instanceof OpenAI.PermissionDeniedError);
    assert.match(e.message, /lacks the scope 'chat'/);
    return true;
  });
  const emb = await embedOnly.embeddings.create({ model: 'mock/embed', input: 'hello' });
  assert.equal(emb.data.length, 1);
});
