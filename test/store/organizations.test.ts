import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { storeTest } from './temp-store.js';

storeTest('createOrganization trims the name, defaults sandbox to false and can be read back', async (db) => {
  const store = await db.open();
  assert.equal(await store.isEmpty(), true);
  const org = await store.createOrganization({ name: '  Acme  ' });
  assert.equal(org.name, 'Acme');
  assert.equal(org.sandbox, false);
  assert.match(org.id, /^[0-9a-f-]{36}$/);
  assert.ok(!Number.isNaN(Date.parse(org.createdAt)));
  assert.deepEqual(await store.getOrganization(org.id), org);
  assert.deepEqual(await store.getOrganization(org.id.toUpperCase()), org);
  assert.equal(await store.isEmpty(), false);
});

storeTest('sandbox organizations are flagged', async (db) => {
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Sandbox', sandbox: true });
  assert.equal(org.sandbox, true);
  assert.equal((await store.getOrganization(org.id))?.sandbox, true);
});

storeTest('listOrganizations returns every organization', async (db) => {
  const store = await db.open();
  const a = await store.createOrganization({ name: 'A' });
  const b = await store.createOrganization({ name: 'B' });
  const listed = await store.listOrganizations();
  assert.deepEqual(listed.map((o) => o.id).sort(), [a.id, b.id].sort());
});

storeTest('getOrganization returns undefined for unknown and malformed ids', async (db) => {
  const store = await db.open();
  assert.equal(await store.getOrganization(randomUUID()), undefined);
  assert.equal(await store.getOrganization('not-a-uuid'), undefined);
  assert.equal(await store.getOrganization(''), undefined);
});

storeTest('setSubscription creates, then replaces, keeping createdAt', async (db) => {
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Acme' });
  assert.equal(await store.getSubscription(org.id), undefined);

  const created = await store.setSubscription(org.id, { status: 'active', plan: ' pro ' });
  assert.deepEqual(
    { orgId: created.orgId, status: created.status, plan: created.plan },
    { orgId: org.id, status: 'active', plan: 'pro' },
  );
  assert.equal(created.updatedAt, created.createdAt);

  const replaced = await store.setSubscription(org.id, { status: 'canceled' });
  assert.equal(replaced.status, 'canceled');
  assert.equal(replaced.plan, null, 'a replacement without a plan clears it');
  assert.equal(replaced.createdAt, created.createdAt);
  assert.ok(replaced.updatedAt >= created.updatedAt);
  assert.deepEqual(await store.getSubscription(org.id), replaced);
});

storeTest('setSubscription on a missing organization is NOT_FOUND', async (db) => {
  const store = await db.open();
  const id = randomUUID();
  await assert.rejects(store.setSubscription(id, { status: 'active' }), {
    name: 'StoreError',
    code: 'NOT_FOUND',
    message: `organization ${id} not found`,
  });
  await assert.rejects(store.setSubscription('nope', { status: 'active' }), { code: 'NOT_FOUND' });
  assert.equal(await store.getSubscription('nope'), undefined);
});
