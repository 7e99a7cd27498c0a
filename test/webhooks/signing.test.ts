/**
 * Standard Webhooks signatures (issue 15 point 2) checked by the independent `standardwebhooks`
 * package: ours verify with it, its signatures equal ours, both secrets of a rotation verify,
 * and a changed body, id or timestamp does not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { newWebhookSecret } from '../../src/store/webhooks.js';
import { signatureHeaders } from '../../src/webhooks/signing.js';

const body = '{"type":"onlyfans.api2_chat_message","timestamp":"2026-12-01T10:00:00.000Z","data":{"modelId":"m","eventId":"1-0","frame":{"api2_chat_message":{"id":1}}}}';

test('signatures verify with standardwebhooks, and equal its own', () => {
  const secret = newWebhookSecret();
  const at = new Date();
  const headers = signatureHeaders('msg_abc', at, body, [secret]);
  assert.equal(headers['webhook-timestamp'], String(Math.floor(at.getTime() / 1000)));
  assert.deepEqual(new Webhook(secret).verify(body, { ...headers }), JSON.parse(body));
  assert.equal(headers['webhook-signature'], new Webhook(secret).sign('msg_abc', at, body));
});

test('during a rotation both secrets sign, so a receiver holding either verifies', () => {
  const current = newWebhookSecret();
  const previous = newWebhookSecret();
  const headers = signatureHeaders('msg_rot', new Date(), body, [current, previous]);
  assert.equal(headers['webhook-signature'].split(' ').length, 2);
  for (const secret of [current, previous]) assert.deepEqual(new Webhook(secret).verify(body, { ...headers }), JSON.parse(body));
  assert.throws(() => new Webhook(newWebhookSecret()).verify(body, { ...headers }), /No matching signature/);
});

test('a changed body, id or timestamp does not verify', () => {
  const secret = newWebhookSecret();
  const at = new Date();
  const headers = signatureHeaders('msg_x', at, body, [secret]);
  const hook = new Webhook(secret);
  assert.throws(() => hook.verify(body.replace('"id":1', '"id":2'), { ...headers }));
  assert.throws(() => hook.verify(body, { ...headers, 'webhook-id': 'msg_y' }));
  assert.throws(() => hook.verify(body, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) }));
});
