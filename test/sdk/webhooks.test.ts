/**
 * The SDK's webhook signatures (packages/client/src/webhooks.ts) against `standardwebhooks`, an
 * independent Standard Webhooks implementation, both ways; and what verification must refuse:
 * a changed body, id or timestamp, an old or future timestamp, a wrong secret; and rotation.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { signWebhook, verifyWebhook, WebhookVerificationError, type WebhookVerificationCode } from '../../packages/client/src/node.js';

const newSecret = (): string => `whsec_${randomBytes(randomInt(16, 48)).toString('base64')}`;
const now = (): number => Math.floor(Date.now() / 1000);

/** A body as the gateway sends it, with text that exercises UTF-8. */
function body(i: number): string {
  return JSON.stringify({ type: 'onlyfans.api2_chat_message', timestamp: new Date().toISOString(), data: { modelId: '16f3d13b-9415-4e6b-babe-e8db6b31bd97', eventId: `${Date.now()}-${i}`, frame: { api2_chat_message: { id: i, text: `héllo ✓ ${'x'.repeat(randomInt(0, 300))}` } } } });
}

async function refusal(promise: Promise<unknown>, code: WebhookVerificationCode): Promise<WebhookVerificationError> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}, it verified`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof WebhookVerificationError, String(error));
  assert.equal(error.code, code, error.message);
  return error;
}

describe('webhook signatures agree with the standardwebhooks package', () => {
  it('theirs signs, ours verifies (and computes the same signature)', async () => {
    for (let i = 0; i < 40; i++) {
      const secret = newSecret();
      const id = `msg_${randomBytes(8).toString('hex')}`;
      const timestamp = now() - randomInt(0, 200);
      const text = body(i);
      const signature = new Webhook(secret).sign(id, new Date(timestamp * 1000), text);
      const headers = { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature };
      const verified = await verifyWebhook({ secret, headers, body: i % 2 ? text : new TextEncoder().encode(text) });
      assert.deepEqual(verified, { id, timestamp, payload: JSON.parse(text) });
      assert.equal((await signWebhook({ secret, id, timestamp, body: text }))['webhook-signature'], signature);
    }
  });

  it('ours signs, theirs verifies — with one secret, and with each of two during a rotation', async () => {
    for (let i = 0; i < 40; i++) {
      const [oldSecret, newSecret_] = [newSecret(), newSecret()];
      const text = body(i);
      const one = await signWebhook({ secret: oldSecret, id: `msg_${i}`, body: text });
      assert.deepEqual(new Webhook(oldSecret).verify(text, { ...one }), JSON.parse(text));
      const both = await signWebhook({ secret: [oldSecret, newSecret_], id: `msg_${i}`, body: text });
      assert.equal(both['webhook-signature'].split(' ').length, 2);
      assert.deepEqual(new Webhook(oldSecret).verify(text, { ...both }), JSON.parse(text));
      assert.deepEqual(new Webhook(newSecret_).verify(text, { ...both }), JSON.parse(text));
      assert.throws(() => new Webhook(newSecret()).verify(text, { ...both }), /No matching signature/);
    }
  });
});

describe('verifyWebhook refuses what was not signed, recently, by a secret it holds', () => {
  const secret = newSecret();
  const text = body(1);
  const signed = (timestamp = now(), s: string | string[] = secret) => signWebhook({ secret: s, id: 'msg_1', timestamp, body: text });

  it('a changed body, id or timestamp', async () => {
    const headers = await signed();
    await refusal(verifyWebhook({ secret, headers, body: text.replace('héllo', 'hello') }), 'INVALID_SIGNATURE');
    await refusal(verifyWebhook({ secret, headers, body: `${text} ` }), 'INVALID_SIGNATURE');
    await refusal(verifyWebhook({ secret, headers: { ...headers, 'webhook-id': 'msg_2' }, body: text }), 'INVALID_SIGNATURE');
    await refusal(verifyWebhook({ secret, headers: { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) }, body: text }), 'INVALID_SIGNATURE');
    // One flipped bit of the signature itself.
    const bytes = Buffer.from(headers['webhook-signature'].slice(3), 'base64');
    const at = randomInt(0, bytes.length);
    bytes[at] = (bytes[at] as number) ^ (1 << randomInt(0, 8));
    await refusal(verifyWebhook({ secret, headers: { ...headers, 'webhook-signature': `v1,${bytes.toString('base64')}` }, body: text }), 'INVALID_SIGNATURE');
    assert.deepEqual((await verifyWebhook({ secret, headers, body: text })).payload, JSON.parse(text), 'the untouched delivery verifies');
  });

  it('timestamps outside the tolerance, even correctly signed, and ones that are not seconds', async () => {
    await refusal(verifyWebhook({ secret, headers: await signed(now() - 310), body: text }), 'TIMESTAMP_TOO_OLD');
    await refusal(verifyWebhook({ secret, headers: await signed(now() + 310), body: text }), 'TIMESTAMP_TOO_NEW');
    await refusal(verifyWebhook({ secret, headers: await signed(now() - 61), body: text, toleranceSec: 60 }), 'TIMESTAMP_TOO_OLD');
    assert.ok(await verifyWebhook({ secret, headers: await signed(now() - 250), body: text }));
    await refusal(verifyWebhook({ secret, headers: { ...(await signed()), 'webhook-timestamp': '2026-01-01T00:00:00Z' }, body: text }), 'INVALID_TIMESTAMP');
  });

  it('a wrong secret, a signature of another version, missing headers, a malformed secret that stays out of the message', async () => {
    const headers = await signed();
    await refusal(verifyWebhook({ secret: newSecret(), headers, body: text }), 'INVALID_SIGNATURE');
    await refusal(verifyWebhook({ secret, headers: { ...headers, 'webhook-signature': headers['webhook-signature'].replace('v1,', 'v2,') }, body: text }), 'INVALID_SIGNATURE');
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
      const { [name]: _gone, ...rest } = headers;
      const error = await refusal(verifyWebhook({ secret, headers: rest, body: text }), 'MISSING_HEADER');
      assert.match(error.message, new RegExp(name));
    }
    const bad = 'whsec_not base64!';
    const error = await refusal(verifyWebhook({ secret: bad, headers, body: text }), 'INVALID_SECRET');
    assert.ok(!error.message.includes('not base64!'), error.message);
    await refusal(verifyWebhook({ secret: [], headers, body: text }), 'INVALID_SECRET');
  });

  it('accepts either secret during a rotation, whichever signed', async () => {
    const next = newSecret();
    for (const signedWith of [secret, next, [secret, next], [next, secret]]) {
      const verified = await verifyWebhook({ secret: [secret, next], headers: await signed(now(), signedWith), body: text });
      assert.equal(verified.id, 'msg_1');
    }
    await refusal(verifyWebhook({ secret: [newSecret(), newSecret()], headers: await signed(now(), [secret, next]), body: text }), 'INVALID_SIGNATURE');
  });

  it('reads a Fetch Headers object and Node headers in any case, arrays included', async () => {
    const headers = await signed();
    assert.ok(await verifyWebhook({ secret, headers: new Headers(headers), body: text }));
    const mixed = { 'Webhook-Id': headers['webhook-id'], 'WEBHOOK-TIMESTAMP': [headers['webhook-timestamp']], 'webhook-signature': headers['webhook-signature'] };
    assert.ok(await verifyWebhook({ secret, headers: mixed, body: text }));
  });
});
