import assert from 'node:assert/strict';
import { storeTest } from './temp-store.js';

storeTest('every mutation appends one change, in order, with its kind and entity', async (db) => {
  const store = await db.open();
  assert.equal(await store.latestChangeSeq(), 0);
  assert.deepEqual(await store.changesSince(0), []);

  const org = await store.createOrganization({ name: 'Acme' });
  await store.setSubscription(org.id, { status: 'active' });
  const key = await store.createApiKey(org.id);
  const model = await store.createModel(org.id, { wsUrl: 'wss://ws.example/ws', wsToken: 't' });
  await store.updateModel(model.id, { name: 'M' });
  await store.setModelStatus(model.id, 'disconnected');
  await store.revokeApiKey(key.id);
  await store.setSubscription(org.id, { status: 'canceled' });
  await store.removeModel(model.id);
  await store.touchApiKey(key.id, new Date());

  const changes = await store.changesSince(0);
  assert.deepEqual(
    changes.map((c) => [c.kind, c.entityId]),
    [
      ['organization', org.id],
      ['subscription', org.id],
      ['api_key', key.id],
      ['model', model.id],
      ['model', model.id],
      ['model', model.id],
      ['api_key', key.id],
      ['subscription', org.id],
      ['model', model.id],
    ],
  );
  assert.deepEqual(changes.map((c) => c.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(changes.every((c) => !Number.isNaN(Date.parse(c.at))));
  assert.equal(await store.latestChangeSeq(), 9);
});

storeTest('changesSince pages by seq and limit', async (db) => {
  const store = await db.open();
  for (let i = 0; i < 5; i++) await store.createOrganization({ name: `Org ${i}` });
  assert.deepEqual((await store.changesSince(0, 2)).map((c) => c.seq), [1, 2]);
  assert.deepEqual((await store.changesSince(2, 2)).map((c) => c.seq), [3, 4]);
  assert.deepEqual((await store.changesSince(4)).map((c) => c.seq), [5]);
  assert.deepEqual(await store.changesSince(5), []);
  await assert.rejects(store.changesSince(-1), { code: 'INVALID_INPUT', message: 'after must be 0 or more' });
  await assert.rejects(store.changesSince(0, 0), { code: 'INVALID_INPUT', message: 'limit must be a whole number from 1 to 10000' });
  await assert.rejects(store.changesSince(0.5), { code: 'INVALID_INPUT', message: 'after must be a whole number' });
});

storeTest('a failed mutation appends no change', async (db) => {
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Acme' });
  await assert.rejects(store.createModel(org.id, { wsUrl: 'http://x', wsToken: 't' }));
  await assert.rejects(store.revokeApiKey('00000000-0000-4000-8000-000000000000'));
  assert.equal(await store.latestChangeSeq(), 1);
});

storeTest('two stores on one file (CLI and server) see each other\'s writes and changes', async (db) => {
  const server = await db.open();
  const cli = await db.open();

  const org = await cli.createOrganization({ name: 'Acme' });
  await cli.setSubscription(org.id, { status: 'active' });
  const key = await cli.createApiKey(org.id);
  assert.equal((await server.findApiKey(key.key))?.id, key.id);
  const seen = await server.latestChangeSeq();
  assert.equal(seen, 3);

  await cli.revokeApiKey(key.id);
  const model = await server.createModel(org.id, { wsUrl: 'wss://ws.example/ws', wsToken: 't' });
  await cli.setModelStatus(model.id, 'disconnected');

  assert.deepEqual(
    (await server.changesSince(seen)).map((c) => [c.kind, c.entityId]),
    [
      ['api_key', key.id],
      ['model', model.id],
      ['model', model.id],
    ],
  );
  assert.deepEqual(await cli.changesSince(seen), await server.changesSince(seen));
  assert.equal((await server.getModel(model.id))?.status, 'disconnected');
  assert.ok((await server.getApiKey(key.id))?.revokedAt);
});
