import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely, sql } from 'kysely';
import { ImmediateTransactionSqliteDialect } from '../../src/store/sqlite-dialect.js';
import { StatementCachingDatabase } from '../../src/store/statement-cache.js';
import { tempDatabase, tempStore } from './temp-store.js';

/** Counts (and passes through) every statement better-sqlite3 compiles during the test. */
function countPrepares(t: TestContext) {
  return t.mock.method(Database.prototype, 'prepare');
}

interface Tables {
  items: { id: number; label: string };
}

/** Kysely over the caching wrapper on a raw in-memory database, with three rows. */
async function cachedKysely(t: TestContext, capacity?: number) {
  const raw = new Database(':memory:');
  const cache = new StatementCachingDatabase(raw, capacity);
  const db = new Kysely<Tables>({ dialect: new ImmediateTransactionSqliteDialect({ database: cache }) });
  t.after(() => (raw.open ? db.destroy() : undefined));
  await sql`create table items (id integer primary key, label text not null)`.execute(db);
  await db.insertInto('items').values([{ id: 1, label: 'one' }, { id: 2, label: 'two' }, { id: 3, label: 'three' }]).execute();
  return { raw, cache, db };
}

test('the store compiles each connect-path read once and still sees every write', async (t) => {
  const store = await tempStore(t);
  const org = await store.createOrganization({ name: 'Acme' });
  const other = await store.createOrganization({ name: 'Other' });
  await store.setSubscription(org.id, { status: 'active', plan: 'pro' });
  await store.setSubscription(other.id, { status: 'active', plan: 'basic' });
  const key = await store.createApiKey(org.id, { name: 'ci' });
  const model = await store.createModel(org.id, { name: 'A', wsUrl: 'wss://127.0.0.1:9/a', wsToken: 'token-1', cookie: 'c=1' });
  const reads = async () => ({
    key: await store.findApiKey(key.key),
    subscription: await store.getSubscription(org.id),
    otherSubscription: await store.getSubscription(other.id),
    model: await store.getModel(model.id),
    credentials: await store.getModelCredentials(model.id),
  });

  const prepare = countPrepares(t);
  const first = await reads();
  assert.ok(prepare.mock.callCount() >= 4, 'the first reads compile their statements');
  assert.equal(first.key?.revokedAt, null);
  assert.equal(first.subscription?.plan, 'pro');
  assert.equal(first.otherSubscription?.plan, 'basic', 'a cached statement binds each call its own value');
  assert.equal(first.model?.status, 'connected');
  assert.deepEqual(first.credentials, { wsUrl: 'wss://127.0.0.1:9/a', wsToken: 'token-1', userAgent: null, cookie: 'c=1', proxyUrl: null });

  // Change everything the reads return, then read again: fresh rows, no new statements.
  await store.revokeApiKey(key.id);
  await store.setSubscription(org.id, { status: 'canceled', plan: 'pro' });
  await store.setModelStatus(model.id, 'disconnected');
  await store.updateModel(model.id, { wsUrl: 'wss://127.0.0.1:9/b', wsToken: 'token-2', cookie: null });
  await reads(); // a write's own statements are new; warm any read they displaced
  const before = prepare.mock.callCount();
  for (let i = 0; i < 3; i++) {
    const again = await reads();
    assert.notEqual(again.key?.revokedAt, null);
    assert.equal(again.subscription?.status, 'canceled');
    assert.equal(again.otherSubscription?.status, 'active');
    assert.equal(again.model?.status, 'disconnected');
    assert.deepEqual(again.credentials, { wsUrl: 'wss://127.0.0.1:9/b', wsToken: 'token-2', userAgent: null, cookie: null, proxyUrl: null });
  }
  assert.equal(prepare.mock.callCount(), before, 'repeated reads reuse their cached statements');
  assert.equal(await store.getModel('00000000-0000-4000-8000-000000000000'), undefined);
  assert.equal(await store.getSubscription('00000000-0000-4000-8000-000000000000'), undefined);
});

test('closing the store closes the database under the cache', async (t) => {
  const db = await tempDatabase(t);
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Acme' });
  await store.getSubscription(org.id);
  const close = t.mock.method(Database.prototype, 'close');
  await store.close();
  assert.equal(close.mock.callCount(), 1);
  // The file is released cleanly: another store opens it and reads what was written.
  const reopened = await db.open();
  assert.equal((await reopened.getOrganization(org.id))?.name, 'Acme');
});

test('a cached statement is reused for the same SQL and rebinds its parameters', async (t) => {
  const { raw, cache, db } = await cachedKysely(t);
  const prepare = t.mock.method(raw, 'prepare');
  const byId = (id: number) => db.selectFrom('items').select('label').where('id', '=', id).executeTakeFirst();
  assert.deepEqual(await byId(1), { label: 'one' });
  assert.deepEqual(await byId(2), { label: 'two' });
  assert.equal(await byId(9), undefined);
  await db.updateTable('items').set({ label: 'TWO' }).where('id', '=', 2).execute();
  assert.deepEqual(await byId(2), { label: 'TWO' });
  // One compile for the select and one for the update, however often each ran.
  assert.equal(prepare.mock.callCount(), 2);
  assert.equal(cache.prepare('select 1'), cache.prepare('select 1'));
});

test('a statement that is iterating is never handed out again', async (t) => {
  const { cache } = await cachedKysely(t);
  const text = 'select label from items order by id';
  const streaming = cache.prepare(text);
  const rows = streaming.iterate([]);
  assert.deepEqual(rows.next().value, { label: 'one' });
  assert.equal(streaming.busy, true);

  // Another read of the same SQL meanwhile gets its own statement, which runs.
  const meanwhile = cache.prepare(text);
  assert.notEqual(meanwhile, streaming);
  assert.deepEqual(meanwhile.all([]), [{ label: 'one' }, { label: 'two' }, { label: 'three' }]);
  assert.deepEqual([...rows], [{ label: 'two' }, { label: 'three' }]);
  // The replacement stays cached; the streamed one is not handed out again.
  assert.equal(cache.prepare(text), meanwhile);
});

test('Kysely streams through the cache, beside a cached read of the same query', async (t) => {
  const { raw, cache, db } = await cachedKysely(t);
  const query = db.selectFrom('items').select(['id', 'label']).orderBy('id');
  const all = await query.execute();
  assert.equal(all.length, 3);

  const streamed: unknown[] = [];
  for await (const row of query.stream()) {
    streamed.push(row);
    // While Kysely's iterator is open on the cached statement, the same SQL still runs.
    assert.deepEqual(cache.prepare(query.compile().sql).all([]), all);
  }
  assert.deepEqual(streamed, all);

  // A stream left early releases its statement: the same query runs again at once.
  for await (const row of query.stream()) {
    assert.deepEqual(row, all[0]);
    break;
  }
  assert.deepEqual(await query.execute(), all);
  await db.insertInto('items').values({ id: 4, label: 'four' }).execute();
  assert.equal((await query.execute()).length, 4);

  await db.destroy();
  assert.equal(raw.open, false, 'destroying Kysely closes the database through the cache');
  assert.equal(cache.size, 0);
});

test('the cache keeps the most recently used statements up to its capacity', async (t) => {
  const { cache } = await cachedKysely(t, 2);
  const a = cache.prepare('select 1');
  const b = cache.prepare('select 2');
  assert.equal(cache.prepare('select 1'), a); // now b is the least recently used
  cache.prepare('select 3');
  assert.equal(cache.size, 2);
  assert.equal(cache.prepare('select 1'), a);
  assert.notEqual(cache.prepare('select 2'), b, 'the evicted statement is compiled anew');
  assert.throws(() => new StatementCachingDatabase(new Database(':memory:'), 0), RangeError);
});

test('close empties the cache and closes the database', async (t) => {
  const { raw, cache } = await cachedKysely(t);
  cache.prepare('select 1');
  cache.close();
  assert.equal(raw.open, false);
  assert.equal(cache.size, 0);
  assert.throws(() => cache.prepare('select 1'), /not open/);
});
