/**
 * The SDK's connectMany() against a real gateway: events of several models on one socket with
 * their modelId, a refused model as a `modelError` while the others stay, the event filter,
 * and a gateway restart resumed per model — every event once, in order, for each model.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connectMany, type EnvelopeEvent, type OfgwMultiClient, type OfgwError } from '../../packages/client/src/node.js';
import { waitFor } from '../helpers.js';
import { FAST_RECONNECT, startSdkStack, type SdkStack } from './sdk-harness.js';

describe('SDK connectMany', () => {
  let stack: SdkStack;
  const models: { id: string; userId: number }[] = [];
  const clients: OfgwMultiClient[] = [];

  before(async () => {
    stack = await startSdkStack({ config: { sessionReconnectMinMs: 50, sessionReconnectMaxMs: 200 } });
    for (const userId of [6001, 6002]) {
      const model = await stack.store.createModel(stack.orgId, { name: `M${userId}`, wsUrl: stack.sim.wsUrl(24), wsToken: stack.sim.issueToken({ userId }), userAgent: 'TestAgent/1.0' });
      await stack.store.updateModel(model.id, { delivery: 'session' });
      models.push({ id: model.id, userId });
    }
    for (const m of models) await waitFor(() => stack.sim.currentConnections(m.userId) === 1, 5000, 'the session sockets');
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await stack.close();
  });

  const idOf = (e: EnvelopeEvent): number => (e.data?.api2_chat_message as { id: number }).id;

  it('delivers every model\'s events, names a refused model, and resumes each model after a restart', async () => {
    const [a, b] = models as [{ id: string; userId: number }, { id: string; userId: number }];
    const unknown = randomUUID();
    const refused: { modelId: string; error: OfgwError }[] = [];
    const events: EnvelopeEvent[] = [];
    const client = await connectMany({
      baseUrl: stack.baseUrl,
      apiKey: stack.apiKey,
      models: [a.id, b.id, unknown],
      events: ['api2_chat_message'],
      reconnect: FAST_RECONNECT,
      on: { modelError: (info) => refused.push(info), event: (e) => events.push(e) },
    });
    clients.push(client);
    assert.deepEqual(client.confirmation?.models, [a.id, b.id]);
    await waitFor(() => refused.length === 1, 5000, 'the refusal');
    assert.equal(refused[0]?.modelId, unknown);
    assert.equal(refused[0]?.error.code, 'MODEL_NOT_FOUND');

    let n = 0;
    const push = (m: { userId: number }): void => {
      n++;
      stack.sim.push(m.userId, '{"typing":{"id":0}}'); // filtered out
      stack.sim.push(m.userId, `{"api2_chat_message":{"id":${n}}}`);
    };
    for (let i = 0; i < 3; i++) {
      push(a);
      push(b);
    }
    await waitFor(() => events.length === 6, 5000, 'six events');
    assert.ok(events.every((e) => e.event === 'api2_chat_message'));
    assert.deepEqual(Object.keys(client.lastEventIds).sort(), [a.id, b.id].sort());

    // Logged just before the restart: delivered before it or replayed after, never twice.
    push(a);
    push(b);
    let reopened = false;
    client.on('open', ({ reconnected }) => (reopened ||= reconnected));
    await stack.restartGateway();
    await waitFor(() => reopened, 10_000, 'the reconnect');
    assert.deepEqual(client.confirmation?.resumedModels, { [a.id]: true, [b.id]: true });
    // Clients are confirmed before the restarted gateway's sessions have their sockets again;
    // what OnlyFans sends before that is lost upstream (as on OnlyFans), so wait for them.
    await waitFor(() => stack.sim.currentConnections(a.userId) === 1 && stack.sim.currentConnections(b.userId) === 1, 10_000, 'the sessions back');
    push(a);
    push(b);
    await waitFor(() => events.length === 10, 10_000, 'ten events');
    for (const m of [a, b]) {
      const ids = events.filter((e) => e.modelId === m.id).map(idOf);
      assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'in order');
      assert.equal(new Set(ids).size, 5, `each of ${m.id}'s events once: ${ids.join(',')}`);
    }
    assert.deepEqual(events.map(idOf).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("checks its options, naming the one at fault", async () => {
    await assert.rejects(connectMany({ baseUrl: stack.baseUrl, apiKey: stack.apiKey, models: [] }), /models must be a non-empty array/);
    await assert.rejects(connectMany({ baseUrl: stack.baseUrl, apiKey: stack.apiKey, models: ['x'], since: { y: '1-0' } }), /since names "y"/);
  });
});
