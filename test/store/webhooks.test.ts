/**
 * The webhook store (issue 15 points 1–2; sessions-contract.md §6) on both engines: endpoints
 * with a secret shown once and encrypted at rest, idempotent enqueueing, lifecycle deliveries
 * in the model event's transaction, claims one node at a time with a lease, attempts and their
 * outcomes, rotation with overlap, redelivery, and `ofgw secrets` keeping webhook secrets.
 */
import assert from 'node:assert/strict';
import { StoreError } from '../../src/store/errors.js';
import type { Store } from '../../src/store/types.js';
import type { WebhookEventInput } from '../../src/store/webhook-types.js';
import { webhookId } from '../../src/store/webhooks.js';
import { storeTest, type TempDatabase } from './temp-store.js';

const URL_A = 'https://hooks.example.com/ofgw';

async function setup(db: TempDatabase) {
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Acme' });
  const model = await store.createModel(org.id, { wsUrl: 'wss://ws2.onlyfans.com/ws3/', wsToken: 'tok-123' });
  return { store, org, model };
}

function chatEvent(modelId: string, eventId: string, type = 'onlyfans.api2_chat_message'): WebhookEventInput {
  return { key: `event:${modelId}:${eventId}`, type, modelId, occurredAt: new Date().toISOString(), payload: JSON.stringify({ type, eventId }) };
}

function invalid(fields: string[]) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof StoreError, String(error));
    assert.equal(error.code, 'INVALID_INPUT');
    assert.deepEqual(error.issues.map((i) => i.field), fields);
    return true;
  };
}

async function pendingOf(store: Store, endpointId: string) {
  return store.webhooks.listDeliveries(endpointId, { status: 'pending' });
}

storeTest('an endpoint gets a whsec_ secret once, kept encrypted; listings never show it', async (db) => {
  const { store, org } = await setup(db);
  const created = await store.webhooks.createEndpoint(org.id, { url: URL_A, events: ['onlyfans.*', 'model.connected'] });
  assert.match(created.secret, /^whsec_[A-Za-z0-9+/]{32}$/);
  assert.deepEqual(created.events, ['onlyfans.*', 'model.connected']);
  assert.equal(created.models, null);
  assert.equal(created.enabled, true);
  const listed = await store.webhooks.listEndpoints(org.id);
  assert.equal(listed.length, 1);
  assert.ok(!('secret' in listed[0]!));
  assert.deepEqual(await store.webhooks.getEndpoint(created.id), listed[0]);
  const contents = (await db.contents()).toString('latin1');
  assert.ok(!contents.includes(created.secret.slice(6)), 'the secret is not in the database in clear');
  // Another store on the database (another node) reads it back through the keyring.
  const other = await db.open();
  await other.webhooks.enqueueTest(created.id);
  const [claimed] = await other.webhooks.claimDue('node-b', 10, 60_000);
  assert.deepEqual(claimed?.secrets, [created.secret]);
});

storeTest('bad endpoint input names each field, and nothing is written', async (db) => {
  const { store, org } = await setup(db);
  await assert.rejects(store.webhooks.createEndpoint(org.id, { url: 'ftp://x.example' }), invalid(['url']));
  await assert.rejects(store.webhooks.createEndpoint(org.id, { url: 'https://user:pw@x.example/' }), invalid(['url']));
  await assert.rejects(store.webhooks.createEndpoint(org.id, { url: URL_A, events: ['chat message'], models: ['nope'] }), invalid(['events.0', 'models.0']));
  await assert.rejects(store.webhooks.createEndpoint(org.id, { url: URL_A, events: [] }), invalid(['events']));
  await assert.rejects(store.webhooks.createEndpoint('8f0c3f4e-4b7c-4f55-9a44-3f0e0c1b2a11', { url: URL_A }), (e: unknown) => e instanceof StoreError && e.code === 'NOT_FOUND');
  assert.deepEqual(await store.webhooks.listEndpoints(), []);
});

storeTest('update changes filters and the enabled flag; remove takes the deliveries along', async (db) => {
  const { store, org, model } = await setup(db);
  const endpoint = await store.webhooks.createEndpoint(org.id, { url: URL_A });
  const updated = await store.webhooks.updateEndpoint(endpoint.id, { events: ['model.*'], models: [model.id.toUpperCase()], enabled: false });
  assert.deepEqual(updated.events, ['model.*']);
  assert.deepEqual(updated.models, [model.id]);
  assert.equal(updated.enabled, false);
  assert.equal(updated.disabledReason, 'disabled by an operator');
  const back = await store.webhooks.updateEndpoint(endpoint.id, { enabled: true, events: null });
  assert.equal(back.disabledReason, null);
  assert.equal(back.events, null);
  await store.webhooks.enqueue(org.id, [chatEvent(model.id, '1-0')]);
  await store.webhooks.removeEndpoint(endpoint.id);
  assert.equal(await store.webhooks.getEndpoint(endpoint.id), undefined);
  assert.deepEqual(await db.query('select id from webhook_deliveries'), []);
  await assert.rejects(store.webhooks.removeEndpoint(endpoint.id), (e: unknown) => e instanceof StoreError && e.code === 'NOT_FOUND');
});

storeTest('enqueue is idempotent per endpoint and event, follows the filters, and moves the cursor with it', async (db) => {
  const { store, org, model } = await setup(db);
  const all = await store.webhooks.createEndpoint(org.id, { url: URL_A });
  const chats = await store.webhooks.createEndpoint(org.id, { url: `${URL_A}/chats`, events: ['onlyfans.api2_chat_message'] });
  const otherModel = await store.webhooks.createEndpoint(org.id, { url: `${URL_A}/m`, models: ['0b7d1e56-0e53-4c3c-8c39-7c4d9b2a6f10'] });
  const events = [chatEvent(model.id, '10-0'), chatEvent(model.id, '10-1', 'onlyfans.post_updated')];
  assert.equal(await store.webhooks.enqueue(org.id, events, { modelId: model.id, eventId: '10-1' }), 3);
  // The same events again (a second holder during a takeover): nothing new.
  assert.equal(await store.webhooks.enqueue(org.id, events, { modelId: model.id, eventId: '10-1' }), 0);
  assert.equal(await store.webhooks.intakeCursor(model.id), '10-1');
  assert.deepEqual((await pendingOf(store, all.id)).map((d) => d.type).sort(), ['onlyfans.api2_chat_message', 'onlyfans.post_updated']);
  const [chat] = await pendingOf(store, chats.id);
  assert.equal(chat?.id, webhookId(chats.id, `event:${model.id}:10-0`));
  assert.match(chat!.id, /^msg_[A-Za-z0-9_-]{22}$/);
  assert.deepEqual(await pendingOf(store, otherModel.id), []);
  // An endpoint created after an event does not get it.
  const between = new Date().toISOString();
  await new Promise((resolve) => setTimeout(resolve, 3));
  const late = await store.webhooks.createEndpoint(org.id, { url: `${URL_A}/late` });
  const old = { ...chatEvent(model.id, '9-0'), occurredAt: between };
  assert.equal(await store.webhooks.enqueue(org.id, [old]), 2, 'only the two older matching endpoints');
  assert.deepEqual(await pendingOf(store, late.id), []);
});

storeTest('lifecycle events become deliveries in the transaction that records them', async (db) => {
  const { store, org, model } = await setup(db);
  const endpoint = await store.webhooks.createEndpoint(org.id, { url: URL_A, events: ['model.*', 'session.*'] });
  await store.setModelStatus(model.id, 'disconnected');
  await store.setModelStatus(model.id, 'connected');
  await store.markCredentialsRejected(model.id, 'OnlyFans said 401');
  await store.recordModelEvent(model.id, 'session.upstream_down', 'token rejected');
  await store.refreshCredentials(model.id, { wsUrl: 'wss://ws2.onlyfans.com/ws3/', wsToken: 'tok-456' });
  await store.recordModelEvent(model.id, 'session.upstream_restored', 'back');
  await store.recordModelEvent(model.id, 'proxy_failing', 'no webhook type for this kind');
  // The log's order within one millisecond is unspecified: the bodies' order is by lifecycle seq.
  const deliveries = (await pendingOf(store, endpoint.id)).sort((x, y) => x.createdAt.localeCompare(y.createdAt));
  assert.deepEqual(deliveries.map((d) => d.type).sort(), [
    'model.disconnected',
    'model.connected',
    'model.credentials_rejected',
    'session.upstream_down',
    'model.credentials_refreshed',
    'session.upstream_restored',
  ].sort());
  const rejected = deliveries.find((d) => d.type === 'model.credentials_rejected');
  const body = JSON.parse(rejected!.payload) as { type: string; timestamp: string; data: { modelId: string; reason: string } };
  assert.deepEqual(body.data, { modelId: model.id, reason: 'OnlyFans said 401' });
  assert.equal(body.type, 'model.credentials_rejected');
  assert.ok(!Number.isNaN(Date.parse(body.timestamp)));
});

storeTest('two nodes claim disjoint deliveries; a claim that runs out is free again; a stale outcome is ignored', async (db) => {
  const { store, org, model } = await setup(db);
  const endpoint = await store.webhooks.createEndpoint(org.id, { url: URL_A });
  await store.webhooks.enqueue(org.id, Array.from({ length: 40 }, (_, i) => chatEvent(model.id, `20-${i}`)));
  const other = await db.open();
  const [a, b] = await Promise.all([store.webhooks.claimDue('node-a', 25, 60_000), other.webhooks.claimDue('node-b', 25, 60_000)]);
  const ids = [...a, ...b].map((d) => d.id);
  assert.ok(a.length <= 25 && b.length <= 25, `each claim keeps to its limit (${a.length}, ${b.length})`);
  assert.equal(ids.length, 40);
  assert.equal(new Set(ids).size, 40, 'no delivery claimed twice');
  assert.deepEqual(await store.webhooks.claimDue('node-c', 10, 60_000), [], 'all are claimed');

  // node-a dies holding a short claim: once it ends, node-c takes the delivery over.
  await store.webhooks.redeliver(a[0]!.id);
  const [short] = await store.webhooks.claimDue('node-a', 1, 1);
  assert.equal(short?.id, a[0]!.id);
  await new Promise((resolve) => setTimeout(resolve, 5));
  const [taken] = await other.webhooks.claimDue('node-c', 1, 60_000);
  assert.equal(taken?.id, a[0]!.id);
  const attempt = { at: new Date().toISOString(), statusCode: 200, error: null, latencyMs: 12 };
  // node-a comes back and reports: its attempt is logged, its outcome is not applied.
  await store.webhooks.recordAttempt(taken!.id, 'node-a', attempt, { status: 'delivered' });
  assert.equal((await store.webhooks.getDelivery(taken!.id))?.status, 'pending');
  await store.webhooks.recordAttempt(taken!.id, 'node-c', attempt, { status: 'delivered' });
  const done = await store.webhooks.getDelivery(taken!.id);
  assert.equal(done?.status, 'delivered');
  assert.equal(done?.attempts, 1);
  assert.equal(done?.nextAttemptAt, null);
  assert.deepEqual((await store.webhooks.listAttempts(taken!.id)).map((x) => [x.node, x.statusCode, x.latencyMs]), [['node-a', 200, 12], ['node-c', 200, 12]]);
  assert.equal(endpoint.enabled, true);
});

storeTest('a retry waits for its time; failed ends it; 410 disables the endpoint and stops its claims', async (db) => {
  const { store, org, model } = await setup(db);
  const endpoint = await store.webhooks.createEndpoint(org.id, { url: URL_A });
  await store.webhooks.enqueue(org.id, [chatEvent(model.id, '30-0'), chatEvent(model.id, '30-1')]);
  const [first, second] = await store.webhooks.claimDue('n', 10, 60_000);
  const at = new Date().toISOString();
  await store.webhooks.recordAttempt(first!.id, 'n', { at, statusCode: 503, error: 'HTTP 503', latencyMs: 3 }, { status: 'pending', nextAttemptAt: new Date(Date.now() + 60_000).toISOString() });
  const retry = await store.webhooks.getDelivery(first!.id);
  assert.deepEqual([retry?.status, retry?.attempts, retry?.lastStatusCode, retry?.lastError], ['pending', 1, 503, 'HTTP 503']);
  assert.deepEqual(await store.webhooks.claimDue('n', 10, 60_000), [], 'not due yet');
  await store.webhooks.recordAttempt(second!.id, 'n', { at, statusCode: 410, error: 'HTTP 410', latencyMs: 3 }, { status: 'failed', disableEndpoint: 'the receiver answered 410 Gone' });
  assert.equal((await store.webhooks.getDelivery(second!.id))?.status, 'failed');
  const disabled = await store.webhooks.getEndpoint(endpoint.id);
  assert.deepEqual([disabled?.enabled, disabled?.disabledReason], [false, 'the receiver answered 410 Gone']);
  await store.webhooks.redeliver(first!.id);
  assert.deepEqual(await store.webhooks.claimDue('n', 10, 60_000), [], 'a disabled endpoint gets nothing');
  assert.equal(await store.webhooks.enqueue(org.id, [chatEvent(model.id, '30-2')]), 0, 'nor new deliveries');
  await store.webhooks.updateEndpoint(endpoint.id, { enabled: true });
  const again = await store.webhooks.claimDue('n', 10, 60_000);
  assert.deepEqual(again.map((d) => [d.id, d.attempts]), [[first!.id, 0]], 'redelivered with a fresh schedule');
});

storeTest('rotation: both secrets sign during the overlap, only the new one after it or without one', async (db) => {
  const { store, org } = await setup(db);
  const endpoint = await store.webhooks.createEndpoint(org.id, { url: URL_A });
  const rotated = await store.webhooks.rotateSecret(endpoint.id, 60_000);
  assert.notEqual(rotated.secret, endpoint.secret);
  assert.ok(rotated.previousSecretUntil !== null && Date.parse(rotated.previousSecretUntil) > Date.now());
  await store.webhooks.enqueueTest(endpoint.id);
  const [claimed] = await store.webhooks.claimDue('n', 1, 60_000);
  assert.deepEqual(claimed?.secrets, [rotated.secret, endpoint.secret]);
  const again = await store.webhooks.rotateSecret(endpoint.id, 0);
  assert.equal(again.previousSecretUntil, null);
  await store.webhooks.redeliver(claimed!.id);
  const [next] = await store.webhooks.claimDue('n', 1, 60_000);
  assert.deepEqual(next?.secrets, [again.secret]);
  await assert.rejects(store.webhooks.rotateSecret(endpoint.id, -1), invalid(['overlapMs']));
});

storeTest('the delivery log pages newest first and filters by status', async (db) => {
  const { store, org, model } = await setup(db);
  const endpoint = await store.webhooks.createEndpoint(org.id, { url: URL_A });
  for (let i = 0; i < 5; i++) await store.webhooks.enqueue(org.id, [chatEvent(model.id, `40-${i}`)]);
  const all = await store.webhooks.listDeliveries(endpoint.id);
  assert.equal(all.length, 5);
  const page1 = await store.webhooks.listDeliveries(endpoint.id, { limit: 2 });
  const page2 = await store.webhooks.listDeliveries(endpoint.id, { limit: 2, before: page1[1]!.id });
  const page3 = await store.webhooks.listDeliveries(endpoint.id, { limit: 2, before: page2[1]!.id });
  assert.deepEqual([...page1, ...page2, ...page3].map((d) => d.id), all.map((d) => d.id));
  assert.deepEqual(await store.webhooks.listDeliveries(endpoint.id, { status: 'failed' }), []);
  await assert.rejects(store.webhooks.listDeliveries(endpoint.id, { status: 'gone' as 'failed', limit: 0 }), invalid(['status', 'limit']));
});

storeTest('ofgw secrets rotate re-encrypts webhook secrets, and prune keeps a key they use', async (db) => {
  const { store, org } = await setup(db);
  const endpoint = await store.webhooks.createEndpoint(org.id, { url: URL_A });
  const rotated = await store.webhooks.rotateSecret(endpoint.id, 60_000);
  const admin = await db.openSecretsAdmin();
  const before = await admin.status();
  assert.equal(before.keys.find((k) => k.current)?.values, 3, 'the model token and the endpoint\'s two secrets');
  const result = await admin.rotate();
  assert.equal(result.reencrypted, 3);
  assert.deepEqual(result.failed, []);
  const [row] = await db.query<{ secret: string }>('select secret from webhook_endpoints');
  assert.ok(row!.secret.includes(result.keyId), 'sealed under the new key');
  await store.webhooks.enqueueTest(endpoint.id);
  const [claimed] = await (await db.open()).webhooks.claimDue('n', 1, 60_000);
  assert.deepEqual(claimed?.secrets, [rotated.secret, endpoint.secret]);
});
