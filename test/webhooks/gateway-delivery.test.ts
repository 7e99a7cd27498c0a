/**
 * Webhooks through a running gateway (issue 15 points 2 and 7): a session model's events and
 * its lifecycle events reach a real receiver that answers 503 for a while, each exactly once
 * per webhook-id once accepted, in every attempt signed (checked by `standardwebhooks`), with
 * retries on a shortened schedule; a 410 disables the endpoint.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MODEL_USER_ID, startStack, waitFor, type Stack } from '../helpers.js';
import { startReceiver, verified, type Receiver } from './receiver.js';

interface Body {
  type: string;
  timestamp: string;
  data: { modelId: string; eventId?: string; frame?: { api2_chat_message: { id: number } }; reason?: string | null };
}

describe('webhook deliveries from a gateway', () => {
  let stack: Stack;
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver();
    stack = await startStack({
      config: { webhookAllowPrivateTargets: true, webhookRetrySchedule: [100, 200, 300, 300, 300, 300, 300, 300], webhookTimeoutMs: 2000, nodeTtlMs: 2000 },
    });
  });
  after(async () => {
    await stack.close();
    await receiver.close();
  });

  it('delivers every session event once per webhook-id through 503s, each attempt signed', async () => {
    const endpoint = await stack.store.webhooks.createEndpoint(stack.orgId, { url: receiver.url, events: ['onlyfans.*', 'model.*', 'session.*'] });
    receiver.answer = (n) => ({ status: n < 15 ? 503 : 200 });
    await stack.store.updateModel(stack.modelId, { delivery: 'session' });
    await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 1, 5000, 'the session socket');
    const N = 30;
    for (let i = 1; i <= N; i++) stack.sim.push(MODEL_USER_ID, `{"api2_chat_message":{"id":${i}}}`);
    await stack.store.setModelStatus(stack.modelId, 'disconnected');
    const accepted = (): Map<string, Body> => {
      const byId = new Map<string, Body>();
      for (const r of receiver.requests) if (r.status === 200) byId.set(String(r.headers['webhook-id']), verified(endpoint.secret, r) as Body);
      return byId;
    };
    await waitFor(() => [...accepted().values()].filter((b) => b.type === 'onlyfans.api2_chat_message').length === N && [...accepted().values()].some((b) => b.type === 'model.disconnected'), 20_000, 'every event delivered');

    // Every request, the refused ones too, carries a valid signature.
    for (const r of receiver.requests) verified(endpoint.secret, r);
    const okIds = receiver.requests.filter((r) => r.status === 200).map((r) => String(r.headers['webhook-id']));
    assert.equal(new Set(okIds).size, okIds.length, 'no webhook-id accepted twice');
    const events = [...accepted().values()].filter((b) => b.type === 'onlyfans.api2_chat_message');
    assert.deepEqual(events.map((b) => b.data.frame?.api2_chat_message.id).sort((a, b) => (a ?? 0) - (b ?? 0)), Array.from({ length: N }, (_, i) => i + 1));
    for (const b of events) {
      assert.equal(b.data.modelId, stack.modelId);
      assert.match(String(b.data.eventId), /^\d+-\d+$/);
    }
    assert.ok(receiver.requests.some((r) => r.status === 503), 'some attempts were refused and retried');
    const retried = receiver.requests.filter((r) => r.status === 503).map((r) => String(r.headers['webhook-id']));
    assert.ok(retried.every((id) => okIds.includes(id)), 'each refused delivery was delivered later');
    const delivery = await stack.store.webhooks.getDelivery(retried[0]!);
    assert.equal(delivery?.status, 'delivered');
    const attempts = await stack.store.webhooks.listAttempts(retried[0]!);
    assert.deepEqual(attempts.map((a) => a.statusCode).slice(-1), [200]);
    assert.ok(attempts.length >= 2 && attempts[0]!.statusCode === 503);
  });

  it('410 Gone fails the delivery and disables the endpoint', async () => {
    const gone = await startReceiver();
    try {
      gone.answer = () => ({ status: 410 });
      const endpoint = await stack.store.webhooks.createEndpoint(stack.orgId, { url: gone.url });
      const test = await stack.store.webhooks.enqueueTest(endpoint.id);
      await waitFor(() => gone.requests.length === 1, 10_000, 'the attempt');
      for (let i = 0; i < 500 && (await stack.store.webhooks.getDelivery(test.id))?.status !== 'failed'; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal((await stack.store.webhooks.getDelivery(test.id))?.status, 'failed');
      const disabled = await stack.store.webhooks.getEndpoint(endpoint.id);
      assert.equal(disabled?.enabled, false);
      assert.equal(disabled?.disabledReason, 'the receiver answered 410 Gone');
      assert.equal(gone.requests.length, 1);
      assert.equal(JSON.parse(gone.requests[0]!.body).type, 'webhook.test');
    } finally {
      await gone.close();
    }
  });
});
