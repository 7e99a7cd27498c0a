import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { maskProxyPassword } from '../../src/store/records.js';
import type { NewModel, Store } from '../../src/store/types.js';
import { storeTest } from './temp-store.js';

const full: NewModel = {
  name: 'Model A',
  wsUrl: 'wss://ws2.onlyfans.com/ws3/',
  wsToken: 'tok-123',
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
  cookie: 'sess=abc; auth_id=1',
  proxyUrl: 'http://user:pa55@proxy.example:3128',
};

async function withOrg(store: Store) {
  return store.createOrganization({ name: 'Acme' });
}

storeTest('createModel stores the model connected, showing secrets only as flags and a masked proxy', async (db) => {
  const store = await db.open();
  const org = await withOrg(store);
  const model = await store.createModel(org.id, full);
  assert.equal(model.orgId, org.id);
  assert.equal(model.status, 'connected');
  assert.equal(model.name, 'Model A');
  assert.equal(model.wsUrl, full.wsUrl);
  assert.equal(model.hasWsToken, true);
  assert.equal(model.hasCookie, true);
  assert.equal(model.userAgent, full.userAgent);
  assert.equal(model.proxyUrl, 'http://user:***@proxy.example:3128');
  assert.equal(JSON.stringify(model).includes('pa55'), false);
  assert.equal(JSON.stringify(model).includes('tok-123'), false);
  assert.deepEqual(await store.getModel(model.id), model);
});

storeTest('getModelCredentials returns the secrets as stored', async (db) => {
  const store = await db.open();
  const model = await store.createModel((await withOrg(store)).id, full);
  assert.deepEqual(await store.getModelCredentials(model.id), {
    wsUrl: full.wsUrl,
    wsToken: full.wsToken,
    userAgent: full.userAgent,
    cookie: full.cookie,
    proxyUrl: full.proxyUrl,
  });
  assert.equal(await store.getModelCredentials(randomUUID()), undefined);
  assert.equal(await store.getModelCredentials('x'), undefined);
});

storeTest('optional model fields default to null', async (db) => {
  const store = await db.open();
  const model = await store.createModel((await withOrg(store)).id, { wsUrl: 'ws://localhost:8081/ws', wsToken: 't' });
  assert.equal(model.name, null);
  assert.equal(model.userAgent, null);
  assert.equal(model.hasCookie, false);
  assert.equal(model.proxyUrl, null);
});

storeTest('listModels lists all models or one organization\'s', async (db) => {
  const store = await db.open();
  const a = await withOrg(store);
  const b = await withOrg(store);
  const ma = await store.createModel(a.id, full);
  const mb = await store.createModel(b.id, full);
  assert.deepEqual((await store.listModels()).map((m) => m.id).sort(), [ma.id, mb.id].sort());
  assert.deepEqual(await store.listModels(a.id), [ma]);
  assert.deepEqual(await store.listModels('bad'), []);
});

storeTest('createModel for a missing organization is NOT_FOUND', async (db) => {
  const store = await db.open();
  await assert.rejects(store.createModel(randomUUID(), full), { code: 'NOT_FOUND' });
});

storeTest('updateModel changes given fields, clears nulls and leaves the rest', async (db) => {
  const store = await db.open();
  const model = await store.createModel((await withOrg(store)).id, full);
  const updated = await store.updateModel(model.id, { name: 'Renamed', cookie: null, proxyUrl: null, wsToken: 'tok-456' });
  assert.equal(updated.name, 'Renamed');
  assert.equal(updated.hasCookie, false);
  assert.equal(updated.proxyUrl, null);
  assert.equal(updated.wsUrl, full.wsUrl);
  assert.equal(updated.userAgent, full.userAgent);
  assert.equal(updated.createdAt, model.createdAt);
  assert.ok(updated.updatedAt >= model.updatedAt);
  assert.equal((await store.getModelCredentials(model.id))?.wsToken, 'tok-456');
});

storeTest('an empty patch changes nothing and records no change', async (db) => {
  const store = await db.open();
  const model = await store.createModel((await withOrg(store)).id, full);
  const seq = await store.latestChangeSeq();
  assert.deepEqual(await store.updateModel(model.id, {}), model);
  assert.equal(await store.latestChangeSeq(), seq);
  await assert.rejects(store.updateModel(randomUUID(), {}), { code: 'NOT_FOUND' });
});

storeTest('setModelStatus switches between connected and disconnected', async (db) => {
  const store = await db.open();
  const model = await store.createModel((await withOrg(store)).id, full);
  assert.equal((await store.setModelStatus(model.id, 'disconnected')).status, 'disconnected');
  assert.equal((await store.getModel(model.id))?.status, 'disconnected');
  assert.equal((await store.setModelStatus(model.id, 'connected')).status, 'connected');
  await assert.rejects(store.setModelStatus(model.id, 'paused' as never), {
    code: 'INVALID_INPUT',
    message: 'status must be one of connected, disconnected',
  });
});

storeTest('removeModel deletes; a second removal is NOT_FOUND', async (db) => {
  const store = await db.open();
  const model = await store.createModel((await withOrg(store)).id, full);
  await store.removeModel(model.id);
  assert.equal(await store.getModel(model.id), undefined);
  await assert.rejects(store.removeModel(model.id), { code: 'NOT_FOUND', message: `model ${model.id} not found` });
  await assert.rejects(store.updateModel(model.id, { name: 'x' }), { code: 'NOT_FOUND' });
  await assert.rejects(store.setModelStatus(model.id, 'connected'), { code: 'NOT_FOUND' });
});

test('maskProxyPassword hides only the password', () => {
  assert.equal(maskProxyPassword('http://user:s3cret@host:3128'), 'http://user:***@host:3128');
  assert.equal(maskProxyPassword('socks5h://u:p%40ss@10.0.0.1:1080/'), 'socks5h://u:***@10.0.0.1:1080/');
  assert.equal(maskProxyPassword('http://user@host:3128'), 'http://user@host:3128');
  assert.equal(maskProxyPassword('http://host:3128'), 'http://host:3128');
});
