/**
 * Renaming and deleting organizations (issue 13, point 17): the rename rules are the create
 * rules; a deletion takes the subscription, keys and models with it in one transaction, keeps
 * the models' lifecycle trail, and feeds the changes that close live relays, keys first.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Store } from '../../src/store/types.js';
import { storeTest } from './temp-store.js';

async function populated(store: Store) {
  const org = await store.createOrganization({ name: 'Acme' });
  await store.setSubscription(org.id, { status: 'active', plan: 'pro' });
  const keys = [await store.createApiKey(org.id, { name: 'a' }), await store.createApiKey(org.id, { name: 'b' })];
  const model = await store.createModel(org.id, { name: 'M', wsUrl: 'wss://ws.example/ws3/1', wsToken: 'tok', cookie: 'c=1' });
  return { org, keys, model };
}

storeTest('renameOrganization trims, keeps the id and feeds one change; the same name changes nothing', async (db) => {
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Acme' });
  const before = await store.latestChangeSeq();
  const renamed = await store.renameOrganization(org.id.toUpperCase(), '  Acme Agency ');
  assert.deepEqual(renamed, { ...org, name: 'Acme Agency' });
  assert.deepEqual(await store.getOrganization(org.id), renamed);
  assert.deepEqual((await store.changesSince(before)).map((c) => [c.kind, c.entityId]), [['organization', org.id]]);
  await store.renameOrganization(org.id, 'Acme Agency');
  assert.equal(await store.latestChangeSeq(), before + 1, 'renaming to the current name is not a change');
});

storeTest('renameOrganization follows the create rules and names the field; an unknown id is NOT_FOUND', async (db) => {
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Acme' });
  await assert.rejects(store.renameOrganization(org.id, '   '), { code: 'INVALID_INPUT', message: /^name must be 1–200 characters/ });
  await assert.rejects(store.renameOrganization(org.id, 'a\u0007b'), { code: 'INVALID_INPUT', message: /name must not contain control characters/ });
  const missing = randomUUID();
  await assert.rejects(store.renameOrganization(missing, 'X'), { code: 'NOT_FOUND', message: `organization ${missing} not found` });
  await assert.rejects(store.renameOrganization('nope', 'X'), { code: 'NOT_FOUND' });
  assert.equal((await store.getOrganization(org.id))?.name, 'Acme');
});

storeTest('deleteOrganization removes its subscription, keys and models, and says what went', async (db) => {
  const store = await db.open();
  const { org, keys, model } = await populated(store);
  const other = await populated(store);

  const deleted = await store.deleteOrganization(org.id);
  assert.deepEqual(deleted, { id: org.id, name: 'Acme', deleted: true, keys: 2, models: 1, subscription: 'active' });
  assert.equal(await store.getOrganization(org.id), undefined);
  assert.equal(await store.getSubscription(org.id), undefined);
  assert.deepEqual(await store.listApiKeys(org.id), []);
  assert.equal(await store.findApiKey(keys[0]?.key ?? ''), undefined, 'its keys no longer admit anything');
  assert.equal(await store.getModel(model.id), undefined);
  assert.equal(await store.getModelCredentials(model.id), undefined);
  // The other organization is untouched.
  assert.equal((await store.listApiKeys(other.org.id)).length, 2);
  assert.equal((await store.getModel(other.model.id))?.status, 'connected');
  // Nothing of it is left in any table but the trails.
  for (const table of ['organizations', 'subscriptions', 'api_keys', 'models']) {
    const column = table === 'organizations' ? 'id' : 'org_id';
    assert.deepEqual(await db.query(`select 1 from ${table} where ${column} = ?`, [org.id]), [], table);
  }
});

storeTest("deleteOrganization keeps the models' lifecycle trail, with a removed event that says why", async (db) => {
  const store = await db.open();
  const { org, model } = await populated(store);
  await store.deleteOrganization(org.id);
  const events = await store.listModelEvents(model.id);
  assert.deepEqual(events.map((e) => [e.kind, e.reason]), [['removed', 'organization "Acme" deleted'], ['created', null]]);
});

storeTest('deleteOrganization feeds key changes first, then subscription, models and the organization', async (db) => {
  const store = await db.open();
  const { org, keys, model } = await populated(store);
  const before = await store.latestChangeSeq();
  await store.deleteOrganization(org.id);
  assert.deepEqual(
    (await store.changesSince(before)).map((c) => [c.kind, c.entityId]),
    [['api_key', keys[0]?.id], ['api_key', keys[1]?.id], ['subscription', org.id], ['model', model.id], ['organization', org.id]],
  );
});

storeTest('deleteOrganization of an organization without anything, and of an unknown one', async (db) => {
  const store = await db.open();
  const bare = await store.createOrganization({ name: 'Bare' });
  assert.deepEqual(await store.deleteOrganization(bare.id), { id: bare.id, name: 'Bare', deleted: true, keys: 0, models: 0, subscription: 'none' });
  await assert.rejects(store.deleteOrganization(bare.id), { code: 'NOT_FOUND', message: `organization ${bare.id} not found` });
  await assert.rejects(store.deleteOrganization('nope'), { code: 'NOT_FOUND' });
});

storeTest('a store whose organizations were all deleted is not empty: the sandbox is not seeded again', async (db) => {
  const store = await db.open();
  assert.equal(await store.isEmpty(), true);
  const sandbox = await store.createOrganization({ name: 'Sandbox', sandbox: true });
  await store.deleteOrganization(sandbox.id);
  assert.deepEqual(await store.listOrganizations(), []);
  assert.equal(await store.isEmpty(), false);
});
