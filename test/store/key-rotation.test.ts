/**
 * Key rotation with a grace period (issue 13, point 18): one transaction creates the new key
 * and sets the old one to stop working at now + grace (its `expiresAt`, or revoked at once
 * without a grace), feeding a change for each so live relays follow.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { keyIsUsable } from '../../src/gateway/admission.js';
import { MAX_GRACE_SECONDS, type Store } from '../../src/store/types.js';
import { test } from 'node:test';
import { postgresSkip, storeTest, tempDatabase } from './temp-store.js';

async function orgWithKey(store: Store, expiresAt: string | null = null) {
  const org = await store.createOrganization({ name: 'Acme' });
  const key = await store.createApiKey(org.id, { name: 'crm', expiresAt });
  return { org, key };
}

storeTest('rotateApiKey without a grace revokes the old key now and returns the new one once', async (db) => {
  const store = await db.open();
  const { org, key } = await orgWithKey(store);
  const before = await store.latestChangeSeq();
  const rotated = await store.rotateApiKey(key.id);
  assert.notEqual(rotated.id, key.id);
  assert.equal(rotated.orgId, org.id);
  assert.equal(rotated.name, 'crm');
  assert.equal(rotated.replaces, key.id);
  assert.ok(rotated.key.startsWith(rotated.prefix));
  assert.equal((await store.findApiKey(rotated.key))?.id, rotated.id);
  const old = await store.getApiKey(key.id);
  assert.equal(old?.revokedAt, rotated.graceEndsAt);
  assert.equal(old?.replacedBy, rotated.id);
  assert.equal(keyIsUsable(old, new Date()), false);
  assert.deepEqual((await store.changesSince(before)).map((c) => [c.kind, c.entityId]), [['api_key', rotated.id], ['api_key', key.id]]);
});

storeTest('rotateApiKey with a grace keeps the old key working until the grace ends (its expiresAt)', async (db) => {
  const store = await db.open();
  const { key } = await orgWithKey(store);
  const started = Date.now();
  const rotated = await store.rotateApiKey(key.id, { graceSeconds: 24 * 3600 });
  const ends = Date.parse(rotated.graceEndsAt);
  assert.ok(ends >= started + 24 * 3600_000 && ends <= Date.now() + 24 * 3600_000, rotated.graceEndsAt);
  const old = await store.findApiKey(key.key);
  assert.equal(old?.revokedAt, null);
  assert.equal(old?.expiresAt, rotated.graceEndsAt);
  assert.equal(old?.replacedBy, rotated.id);
  assert.equal(keyIsUsable(old, new Date()), true, 'during the grace');
  assert.equal(keyIsUsable(old, new Date(ends + 1)), false, 'after it');
  assert.equal(rotated.expiresAt, null, 'the new key keeps the old expiry: none');
});

storeTest('a grace longer than the old key has left ends at its own expiry; the new key keeps that expiry', async (db) => {
  const store = await db.open();
  const soon = new Date(Date.now() + 3600_000).toISOString();
  const { key } = await orgWithKey(store, soon);
  const rotated = await store.rotateApiKey(key.id, { graceSeconds: 7 * 86_400 });
  assert.equal(rotated.graceEndsAt, soon);
  assert.equal((await store.getApiKey(key.id))?.expiresAt, soon);
  assert.equal(rotated.expiresAt, soon);
});

storeTest('rotateApiKey refuses a revoked, an already rotated or an expired key (CONFLICT), and an unknown one', async (db) => {
  const store = await db.open();
  const { org, key } = await orgWithKey(store);
  const revoked = await store.createApiKey(org.id);
  await store.revokeApiKey(revoked.id);
  await assert.rejects(store.rotateApiKey(revoked.id), { code: 'CONFLICT', message: `API key ${revoked.id} is already revoked: create a new key instead` });
  const rotated = await store.rotateApiKey(key.id, { graceSeconds: 60 });
  await assert.rejects(store.rotateApiKey(key.id), { code: 'CONFLICT', message: `API key ${key.id} was already rotated (replaced by ${rotated.id})` });
  const expiring = await store.createApiKey(org.id, { expiresAt: new Date(Date.now() + 1000).toISOString() });
  await db.query('update api_keys set expires_at = ? where id = ?', ['2020-01-01T00:00:00.000Z', expiring.id]);
  await assert.rejects(store.rotateApiKey(expiring.id), { code: 'CONFLICT', message: /expired at 2020-01-01T00:00:00.000Z/ });
  await assert.rejects(store.rotateApiKey(randomUUID()), { code: 'NOT_FOUND' });
  assert.equal((await store.listApiKeys(org.id)).length, 4, 'no key was created by a refused rotation');
});

storeTest('rotateApiKey validates the grace and names the field', async (db) => {
  const store = await db.open();
  const { org, key } = await orgWithKey(store);
  for (const graceSeconds of [-1, 1.5, MAX_GRACE_SECONDS + 1, Number.NaN]) {
    await assert.rejects(store.rotateApiKey(key.id, { graceSeconds }), { code: 'INVALID_INPUT', message: /^graceSeconds must be a whole number of seconds from 0 to 2592000/ });
  }
  assert.equal((await store.listApiKeys(org.id)).length, 1);
  assert.equal((await store.getApiKey(key.id))?.replacedBy, null);
});

// PostgreSQL only: two nodes' transactions run side by side there (SQLite's writers queue,
// and in one process its synchronous busy wait would hold up the first writer).
test('two rotations of one key at once on PostgreSQL: one wins, the other is a CONFLICT', { skip: postgresSkip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  const a = await db.open();
  const b = await db.open();
  const { org, key } = await orgWithKey(a);
  const results = await Promise.allSettled([a.rotateApiKey(key.id, { graceSeconds: 60 }), b.rotateApiKey(key.id, { graceSeconds: 60 })]);
  assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  const refused = results.find((r) => r.status === 'rejected');
  assert.equal((refused as PromiseRejectedResult).reason.code, 'CONFLICT');
  assert.equal((await a.listApiKeys(org.id)).length, 2);
});
