/**
 * The model lifecycle in the store: every status change is an event in the audit trail,
 * written in the mutation's transaction, and a rejected token stays rejected until new
 * credentials arrive.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ModelEventKind, NewModel, Store } from '../../src/store/types.js';
import { storeTest, type TempDatabase } from './temp-store.js';

const full: NewModel = {
  wsUrl: 'wss://ws2.onlyfans.com/ws3/',
  wsToken: 'tok-123',
  userAgent: 'UA/1',
  cookie: 'sess=abc',
  proxyUrl: 'http://user:pa55@proxy.example:3128',
};

async function setup(db: TempDatabase) {
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Acme' });
  const model = await store.createModel(org.id, full);
  return { store, org, model };
}

async function kinds(store: Store, id: string): Promise<ModelEventKind[]> {
  return (await store.listModelEvents(id)).map((e) => e.kind);
}

storeTest('createModel records `created` with the model and organization ids', async (db) => {
  const { store, org, model } = await setup(db);
  const [event, ...rest] = await store.listModelEvents(model.id);
  assert.equal(rest.length, 0);
  assert.equal(event?.kind, 'created');
  assert.equal(event?.modelId, model.id);
  assert.equal(event?.orgId, org.id);
  assert.equal(event?.reason, null);
  assert.equal(event?.at, model.createdAt);
  assert.equal(model.credentialsRejectedAt, null);
  assert.equal(model.credentialsRejectedReason, null);
});

storeTest('setModelStatus records connected/disconnected only when the status changes', async (db) => {
  const { store, model } = await setup(db);
  const seq = await store.latestChangeSeq();
  const same = await store.setModelStatus(model.id, 'connected');
  assert.deepEqual(same, model, 'no write');
  assert.equal(await store.latestChangeSeq(), seq, 'no change row');
  await store.setModelStatus(model.id, 'disconnected');
  await store.setModelStatus(model.id, 'disconnected');
  await store.setModelStatus(model.id, 'connected');
  assert.deepEqual(await kinds(store, model.id), ['connected', 'disconnected', 'created']);
  assert.equal(await store.latestChangeSeq(), seq + 2);
});

storeTest('markCredentialsRejected sets the state once, with one event and one change row', async (db) => {
  const { store, model } = await setup(db);
  const seq = await store.latestChangeSeq();
  const rejected = await store.markCredentialsRejected(model.id, '  OnlyFans rejected the model\'s token (code 401)  ');
  assert.ok(rejected.credentialsRejectedAt);
  assert.equal(rejected.credentialsRejectedReason, 'OnlyFans rejected the model\'s token (code 401)');
  assert.equal(rejected.updatedAt, rejected.credentialsRejectedAt);
  assert.equal(await store.latestChangeSeq(), seq + 1);

  const again = await store.markCredentialsRejected(model.id, 'a second rejection');
  assert.deepEqual(again, rejected, 'the first time and reason are kept');
  assert.equal(await store.latestChangeSeq(), seq + 1, 'no change row for a no-op');
  const events = await store.listModelEvents(model.id);
  assert.deepEqual(events.map((e) => e.kind), ['credentials_rejected', 'created']);
  assert.equal(events[0]?.reason, 'OnlyFans rejected the model\'s token (code 401)');
  assert.deepEqual(await store.getModel(model.id), rejected);
});

storeTest('updateModel with changed credentials records credentials_updated (fields named, no values) and clears the rejected state', async (db) => {
  const { store, model } = await setup(db);
  await store.markCredentialsRejected(model.id, 'rejected');
  const updated = await store.updateModel(model.id, { wsToken: 'tok-NEW', cookie: 'sess=abc' });
  assert.equal(updated.credentialsRejectedAt, null);
  assert.equal(updated.credentialsRejectedReason, null);
  const [event] = await store.listModelEvents(model.id);
  assert.equal(event?.kind, 'credentials_updated');
  assert.equal(event?.reason, 'changed: wsToken');
  assert.ok(!JSON.stringify(await store.listModelEvents(model.id)).includes('tok-'), 'no secret in the trail');
});

storeTest('each credential field counts as a credential change; a name does not', async (db) => {
  const { store, model } = await setup(db);
  const patches = [{ wsUrl: 'wss://ws3.onlyfans.com/ws3/' }, { userAgent: 'UA/2' }, { cookie: null }, { proxyUrl: 'socks5://p:q@h:1080' }, { wsToken: 't2' }];
  for (const patch of patches) {
    await store.markCredentialsRejected(model.id, 'rejected');
    const updated = await store.updateModel(model.id, patch);
    assert.equal(updated.credentialsRejectedAt, null, JSON.stringify(Object.keys(patch)));
    assert.equal((await store.listModelEvents(model.id, 1))[0]?.reason, `changed: ${Object.keys(patch)[0]}`);
  }
  await store.markCredentialsRejected(model.id, 'rejected');
  const seq = await store.latestChangeSeq();
  const renamed = await store.updateModel(model.id, { name: 'Renamed' });
  assert.ok(renamed.credentialsRejectedAt, 'a rename keeps the rejected state');
  assert.equal((await store.listModelEvents(model.id, 1))[0]?.kind, 'credentials_rejected');
  assert.equal(await store.latestChangeSeq(), seq + 1, 'the rename is still a change');
});

storeTest('re-entering the same credentials clears a rejected state; when not rejected it records nothing', async (db) => {
  const { store, model } = await setup(db);
  await store.updateModel(model.id, { wsToken: full.wsToken });
  assert.deepEqual(await kinds(store, model.id), ['created']);
  await store.markCredentialsRejected(model.id, 'rejected');
  const cleared = await store.updateModel(model.id, { wsToken: full.wsToken });
  assert.equal(cleared.credentialsRejectedAt, null);
  const [event] = await store.listModelEvents(model.id);
  assert.equal(event?.kind, 'credentials_updated');
  assert.equal(event?.reason, 're-entered unchanged: wsToken');
});

storeTest('refreshCredentials validates, replaces URL and token, keeps or replaces UA and cookie, and clears rejected', async (db) => {
  const { store, model } = await setup(db);
  await store.markCredentialsRejected(model.id, 'rejected');
  const seq = await store.latestChangeSeq();
  const refreshed = await store.refreshCredentials(model.id, { wsUrl: 'wss://ws9.onlyfans.com/ws3/', wsToken: 'tok-fresh' });
  assert.equal(refreshed.credentialsRejectedAt, null);
  assert.equal(await store.latestChangeSeq(), seq + 1);
  assert.deepEqual(await store.getModelCredentials(model.id), {
    wsUrl: 'wss://ws9.onlyfans.com/ws3/',
    wsToken: 'tok-fresh',
    userAgent: full.userAgent,
    cookie: full.cookie,
    proxyUrl: full.proxyUrl,
  });
  const [event] = await store.listModelEvents(model.id);
  assert.equal(event?.kind, 'credentials_refreshed');
  assert.equal(event?.reason, 'changed: wsUrl, wsToken');

  await store.refreshCredentials(model.id, { wsUrl: 'wss://ws9.onlyfans.com/ws3/', wsToken: 'tok-2', userAgent: 'UA/3', cookie: null });
  const creds = await store.getModelCredentials(model.id);
  assert.equal(creds?.userAgent, 'UA/3');
  assert.equal(creds?.cookie, null);

  await assert.rejects(store.refreshCredentials(model.id, { wsUrl: 'http://x', wsToken: 'has space' }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'INVALID_INPUT');
    assert.match(error.message, /wsUrl/);
    assert.match(error.message, /wsToken/);
    assert.doesNotMatch(error.message, /has space/);
    return true;
  });
  await assert.rejects(store.refreshCredentials(model.id, { wsUrl: 'wss://x/ws' } as never), { code: 'INVALID_INPUT', message: 'wsToken is required' });
  await assert.rejects(store.refreshCredentials(randomUUID(), { wsUrl: 'wss://x/ws', wsToken: 't' }), { code: 'NOT_FOUND' });
});

storeTest('recordModelEvent appends without changing state or the change feed', async (db) => {
  const { store, model } = await setup(db);
  const seq = await store.latestChangeSeq();
  await store.recordModelEvent(model.id, 'proxy_failing', 'proxy answered 407');
  assert.equal(await store.latestChangeSeq(), seq);
  assert.deepEqual(await store.getModel(model.id), model);
  const [event] = await store.listModelEvents(model.id);
  assert.equal(event?.kind, 'proxy_failing');
  assert.equal(event?.reason, 'proxy answered 407');
  await assert.rejects(store.recordModelEvent(model.id, 'exploded' as never, 'x'), { code: 'INVALID_INPUT', message: /^kind must be one of created, connected/ });
  await assert.rejects(store.recordModelEvent(model.id, 'proxy_failing', 42 as never), { code: 'INVALID_INPUT', message: 'reason must be a string' });
  await assert.rejects(store.recordModelEvent(randomUUID(), 'proxy_failing', 'x'), { code: 'NOT_FOUND' });
});

storeTest('reasons are trimmed, control characters flattened, cut to 500 characters, blank means none', async (db) => {
  const { store, model } = await setup(db);
  await store.recordModelEvent(model.id, 'proxy_failing', `line one\r\nline\ttwo ${'x'.repeat(600)}`);
  const [long] = await store.listModelEvents(model.id);
  assert.equal(long?.reason?.length, 500);
  assert.ok(long?.reason?.startsWith('line one line two xxx'));
  assert.ok(long?.reason?.endsWith('…'));
  await store.recordModelEvent(model.id, 'proxy_failing', '   ');
  assert.equal((await store.listModelEvents(model.id))[0]?.reason, null);
});

storeTest('removeModel records `removed`; the trail outlives the model', async (db) => {
  const { store, org, model } = await setup(db);
  await store.setModelStatus(model.id, 'disconnected');
  await store.removeModel(model.id);
  const events = await store.listModelEvents(model.id);
  assert.deepEqual(events.map((e) => e.kind), ['removed', 'disconnected', 'created']);
  assert.equal(events[0]?.orgId, org.id);
  assert.ok(events[0]!.seq > events[1]!.seq, 'newest first');
});

storeTest('listModelEvents pages newest first; bad ids give nothing, bad limits are refused', async (db) => {
  const { store, model } = await setup(db);
  for (let i = 0; i < 60; i++) await store.recordModelEvent(model.id, 'proxy_failing', `failure ${i}`);
  assert.equal((await store.listModelEvents(model.id)).length, 50, 'default limit');
  assert.deepEqual((await store.listModelEvents(model.id, 2)).map((e) => e.reason), ['failure 59', 'failure 58']);
  assert.equal((await store.listModelEvents(model.id, 1000)).length, 61);
  assert.deepEqual(await store.listModelEvents('not-a-uuid'), []);
  assert.deepEqual(await store.listModelEvents(randomUUID()), []);
  await assert.rejects(store.listModelEvents(model.id, 0), { code: 'INVALID_INPUT', message: 'limit must be a whole number from 1 to 1000' });
  await assert.rejects(store.listModelEvents(model.id, 1.5), { code: 'INVALID_INPUT' });
});

storeTest('events written by one process are read by another (CLI beside the server)', async (db) => {
  const server = await db.open();
  const cli = await db.open();
  const org = await cli.createOrganization({ name: 'Acme' });
  const model = await cli.createModel(org.id, full);
  await server.markCredentialsRejected(model.id, 'rejected');
  assert.ok((await cli.getModel(model.id))?.credentialsRejectedAt);
  await cli.updateModel(model.id, { wsToken: 'tok-9' });
  assert.deepEqual(await kinds(server, model.id), ['credentials_updated', 'credentials_rejected', 'created']);
  assert.equal((await server.getModelCredentials(model.id))?.wsToken, 'tok-9');
});

storeTest('a failed mutation writes no event', async (db) => {
  const { store, model } = await setup(db);
  await assert.rejects(store.updateModel(model.id, { wsUrl: 'ftp://x' }), { code: 'INVALID_INPUT' });
  await assert.rejects(store.markCredentialsRejected(randomUUID(), 'x'), { code: 'NOT_FOUND' });
  assert.deepEqual(await kinds(store, model.id), ['created']);
});
