import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { isWellFormedApiKey } from '../../src/auth/api-key.js';
import type { Store } from '../../src/store/types.js';
import { storeTest } from './temp-store.js';

async function orgWithKey(store: Store) {
  const org = await store.createOrganization({ name: 'Acme' });
  const key = await store.createApiKey(org.id, { name: 'ci' });
  return { org, key };
}

storeTest('createApiKey returns a well-formed key once; reads never include it', async (db) => {
  const store = await db.open();
  const { org, key } = await orgWithKey(store);
  assert.ok(isWellFormedApiKey(key.key));
  assert.equal(key.prefix, key.key.slice(0, 12));
  assert.equal(key.orgId, org.id);
  assert.equal(key.name, 'ci');
  assert.equal(key.revokedAt, null);
  assert.equal(key.lastUsedAt, null);
  assert.equal(key.expiresAt, null);

  const { key: _plaintext, ...record } = key;
  assert.deepEqual(await store.getApiKey(key.id), record);
  assert.deepEqual(await store.listApiKeys(org.id), [record]);
  assert.equal('key' in record, false);
});

storeTest('createApiKey refuses an expiry in the past or now (a key could be created already expired)', async (db) => {
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Acme' });
  for (const expiresAt of ['2020-01-01', new Date(Date.now() - 1000).toISOString(), new Date().toISOString()]) {
    await assert.rejects(store.createApiKey(org.id, { expiresAt }), { code: 'INVALID_INPUT', message: 'expiresAt must be in the future' }, expiresAt);
  }
  assert.deepEqual(await store.listApiKeys(org.id), [], 'nothing was created');
  const soon = new Date(Date.now() + 60_000).toISOString();
  assert.equal((await store.createApiKey(org.id, { expiresAt: soon })).expiresAt, soon);
});

storeTest('createApiKey normalises expiresAt to UTC and works without input', async (db) => {
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Acme' });
  const dated = await store.createApiKey(org.id, { expiresAt: '2099-01-31T02:00:00+02:00' });
  assert.equal(dated.expiresAt, '2099-01-31T00:00:00.000Z');
  const dayOnly = await store.createApiKey(org.id, { expiresAt: '2099-02-01' });
  assert.equal(dayOnly.expiresAt, '2099-02-01T00:00:00.000Z');
  const bare = await store.createApiKey(org.id);
  assert.equal(bare.name, null);
  assert.equal((await store.listApiKeys(org.id)).length, 3);
});

storeTest('createApiKey for a missing organization is NOT_FOUND', async (db) => {
  const store = await db.open();
  await assert.rejects(store.createApiKey(randomUUID()), { code: 'NOT_FOUND' });
  assert.deepEqual(await store.listApiKeys('not-a-uuid'), []);
});

storeTest('findApiKey matches the exact key only', async (db) => {
  const store = await db.open();
  const { key } = await orgWithKey(store);
  assert.equal((await store.findApiKey(key.key))?.id, key.id);
  assert.equal(await store.findApiKey(key.key.slice(0, -1)), undefined);
  assert.equal(await store.findApiKey(`${key.key}x`), undefined);
  assert.equal(await store.findApiKey(''), undefined);
  const other = await store.createApiKey(key.orgId);
  assert.equal((await store.findApiKey(other.key))?.id, other.id);
});

storeTest('revokeApiKey is idempotent and findApiKey still returns revoked keys', async (db) => {
  const store = await db.open();
  const { key } = await orgWithKey(store);
  const before = await store.latestChangeSeq();
  const first = await store.revokeApiKey(key.id);
  assert.ok(first.revokedAt !== null);
  const second = await store.revokeApiKey(key.id);
  assert.equal(second.revokedAt, first.revokedAt);
  assert.equal((await store.findApiKey(key.key))?.revokedAt, first.revokedAt);
  assert.deepEqual(
    (await store.changesSince(before)).map((c) => [c.kind, c.entityId]),
    [['api_key', key.id]],
    'only the first revocation is a change',
  );
});

storeTest('revokeApiKey of a missing or malformed id is NOT_FOUND', async (db) => {
  const store = await db.open();
  const id = randomUUID();
  await assert.rejects(store.revokeApiKey(id), { code: 'NOT_FOUND', message: `API key ${id} not found` });
  await assert.rejects(store.revokeApiKey('42'), { code: 'NOT_FOUND' });
});

storeTest('touchApiKey writes at most once a minute, never backwards, and is not a change', async (db) => {
  const store = await db.open();
  const { key } = await orgWithKey(store);
  const seq = await store.latestChangeSeq();
  const t0 = new Date('2026-06-01T12:00:00.000Z');
  const lastUsed = async () => (await store.getApiKey(key.id))?.lastUsedAt;

  await store.touchApiKey(key.id, t0);
  assert.equal(await lastUsed(), t0.toISOString());
  await store.touchApiKey(key.id, new Date(t0.getTime() + 59_999));
  assert.equal(await lastUsed(), t0.toISOString(), 'skipped: less than 60 s later');
  const t1 = new Date(t0.getTime() + 60_000);
  await store.touchApiKey(key.id, t1);
  assert.equal(await lastUsed(), t1.toISOString());
  await store.touchApiKey(key.id, t0);
  assert.equal(await lastUsed(), t1.toISOString(), 'an older time never overwrites a newer one');

  await store.touchApiKey(randomUUID(), t1);
  await store.touchApiKey('not-a-uuid', t1);
  assert.equal(await store.latestChangeSeq(), seq);
  await assert.rejects(store.touchApiKey(key.id, new Date(Number.NaN)), {
    code: 'INVALID_INPUT',
    message: 'at must be a valid Date',
  });
});

storeTest('only the SHA-256 of a key is stored: the plaintext is nowhere in the database', async (db) => {
  const store = await db.open();
  const { key } = await orgWithKey(store);
  await store.close();

  const [row] = await db.query<{ key_hash: string }>('select key_hash from api_keys where id = ?', [key.id]);
  assert.equal(row?.key_hash, createHash('sha256').update(key.key).digest('hex'));

  const bytes = await db.contents();
  assert.ok(bytes.includes(row.key_hash), 'sanity: the contents hold the digest');
  assert.equal(bytes.includes(key.key), false, 'the database holds the plaintext key');
  assert.equal(bytes.includes(key.key.slice(12)), false, "the database holds the key's secret part");
});
