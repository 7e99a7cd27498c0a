/**
 * The audit trail across models (`listModelEventsAll`): newest first, one organization's
 * with orgId, paged with `before`, removed models included, bad pages refused by name.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { StoreError } from '../../src/store/errors.js';
import { storeTest } from './temp-store.js';

const credentials = { wsUrl: 'wss://ws2.onlyfans.com/ws3/24', wsToken: 'tok-1' };

storeTest('listModelEventsAll lists every model\'s events newest first, and one organization\'s with orgId', async (db) => {
  const store = await db.open();
  const acme = await store.createOrganization({ name: 'Acme' });
  const other = await store.createOrganization({ name: 'Other' });
  const a = await store.createModel(acme.id, credentials);
  const b = await store.createModel(other.id, credentials);
  await store.setModelStatus(a.id, 'disconnected');
  await store.removeModel(b.id);

  const all = await store.listModelEventsAll();
  assert.deepEqual(
    all.map((e) => [e.modelId, e.kind]),
    [
      [b.id, 'removed'],
      [a.id, 'disconnected'],
      [b.id, 'created'],
      [a.id, 'created'],
    ],
  );
  assert.ok(all.every((e, i) => i === 0 || (all[i - 1]?.seq ?? 0) > e.seq), 'seq descending');

  const acmeOnly = await store.listModelEventsAll({ orgId: acme.id });
  assert.deepEqual(acmeOnly.map((e) => e.kind), ['disconnected', 'created']);
  assert.ok(acmeOnly.every((e) => e.orgId === acme.id));
  assert.deepEqual(await store.listModelEventsAll({ orgId: randomUUID() }), []);
  assert.deepEqual(await store.listModelEventsAll({ orgId: 'not-a-uuid' }), [], 'a malformed id matches nothing');
});

storeTest('listModelEventsAll pages with limit and before, without gaps or repeats', async (db) => {
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Acme' });
  const model = await store.createModel(org.id, credentials);
  for (let i = 0; i < 3; i++) {
    await store.setModelStatus(model.id, 'disconnected');
    await store.setModelStatus(model.id, 'connected');
  }
  const everything = await store.listModelEventsAll({ limit: 1000 });
  assert.equal(everything.length, 7);
  const paged = [];
  let before: number | undefined;
  for (;;) {
    const page = await store.listModelEventsAll({ limit: 3, before });
    if (page.length === 0) break;
    assert.ok(page.length <= 3);
    paged.push(...page);
    before = page[page.length - 1]?.seq;
  }
  assert.deepEqual(paged, everything);
});

storeTest('listModelEventsAll refuses a bad limit or before, naming the field', async (db) => {
  const store = await db.open();
  for (const [query, field] of [
    [{ limit: 0 }, 'limit'],
    [{ limit: 1001 }, 'limit'],
    [{ limit: 2.5 }, 'limit'],
    [{ before: 0 }, 'before'],
    [{ before: 1.5 }, 'before'],
  ] as const) {
    await assert.rejects(store.listModelEventsAll(query), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, 'INVALID_INPUT');
      assert.match(err.message, new RegExp(`^${field} `));
      return true;
    });
  }
});
