/**
 * What only the PostgreSQL store has: a URL (errors that name what is wrong, never the
 * password; the search_path), migrations shared by nodes that open at once, several nodes
 * writing the same rows at the same time, and connections that fail while idle.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { test } from 'node:test';
import { ConfigError } from '../../src/config.js';
import { openStore, storeConnectionError, type StoreConnectionErrorMessage } from '../../src/store/index.js';
import { LOCK_CLASS } from '../../src/store/locks.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { ModelEventKind, Store } from '../../src/store/types.js';
import { freePort } from '../helpers.js';
import { POSTGRES_URL } from '../services.js';
import { postgresSkip, postgresUrlFor, tempDatabase, type TempDatabase } from './temp-store.js';

const MIGRATIONS = ['001_initial', '002_model_lifecycle', '003_operator_audit', '004_model_delivery', '005_webhooks'];
const PASSWORD = 'hunter2-S3cret';
const KEY = { masterKey: randomBytes(32).toString('base64'), env: {} };
const skip = postgresSkip;

/** The machine's PostgreSQL URL with a password (trust auth ignores it) and other parts changed. */
function urlWith(change: (url: URL) => void): string {
  const url = new URL(POSTGRES_URL);
  url.password = PASSWORD;
  change(url);
  return url.toString();
}

/** A `rejects` validator: the error's class and message, and no password anywhere in it. */
function refused(type: new (...args: never[]) => Error, message: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof type, `${String(error)} is a ${type.name}`);
    assert.match(error.message, message);
    assert.ok(!error.message.includes(PASSWORD) && !error.message.includes('S3cret'), `no password in: ${error.message}`);
    return true;
  };
}

/** Polls `check` every 10 ms until it holds (bounded by `timeoutMs`). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Whether a backend waits for a row of this schema's `models` (it holds the table, wants the row). */
async function waitsForModelRow(db: TempDatabase): Promise<boolean> {
  const rows = await db.query(
    "select 1 from pg_locks waiting join pg_locks held on held.pid = waiting.pid where not waiting.granted and held.relation = ?::regclass",
    [`${db.schema}.models`],
  );
  return rows.length > 0;
}

/** The second key of one of this schema's advisory locks (locks.ts), as pg_locks shows it. */
function lockObjid(db: TempDatabase, purpose: 'secrets' | 'changes'): Promise<Array<{ objid: string }>> {
  return db.query("select (hashtext(? || ?)::bigint & 4294967295)::text as objid", [db.schema, `:${purpose}`]);
}

/** Whether a backend waits for this schema's `purpose` lock. */
async function waitsForLock(db: TempDatabase, purpose: 'secrets' | 'changes'): Promise<boolean> {
  const [{ objid }] = (await lockObjid(db, purpose)) as [{ objid: string }];
  const rows = await db.query("select 1 from pg_locks where locktype = 'advisory' and not granted and classid = ? and objid::text = ?", [LOCK_CLASS, objid]);
  return rows.length > 0;
}

async function kinds(store: Store, id: string): Promise<ModelEventKind[]> {
  return (await store.listModelEvents(id, 1000)).map((e) => e.kind);
}

test('an unreachable server is named host:port/database with the reason, never the password', { skip }, async () => {
  const port = await freePort();
  const url = urlWith((u) => (u.port = String(port)));
  await assert.rejects(openStore(url, KEY), refused(Error, new RegExp(`^cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}/test: ECONNREFUSED$`)));
});

test('a database that does not exist is named, with PostgreSQL\'s reason', { skip }, async () => {
  const url = urlWith((u) => (u.pathname = '/ofgw_no_such_database'));
  await assert.rejects(openStore(url, KEY), refused(Error, /^cannot connect to PostgreSQL at 127\.0\.0\.1:5432\/ofgw_no_such_database: database "ofgw_no_such_database" does not exist$/));
});

test('a malformed URL is refused before connecting, naming what is wrong and not the password', async () => {
  const cases: Array<[string, RegExp]> = [
    [`postgres://app:${PASSWORD}#x@127.0.0.1:5432/test`, /a "\/", "\?" or "#" in the user name or password must be percent-encoded/],
    [`postgres://app:${PASSWORD}/x@127.0.0.1:5432/test`, /a "\/", "\?" or "#" in the user name or password must be percent-encoded/],
    [`postgres://app:${PASSWORD}@127.0.0.1:54x2/test`, /the port "54x2" is not a number/],
    [`postgres://app:${PASSWORD}@127.0.0.1:99999/test`, /the port "99999" is not a number/],
    [`postgres://app:${PASSWORD}@127.0.0.1:5432`, /it names no database/],
    [`postgres://app:${PASSWORD}@127.0.0.1:5432/`, /it names no database/],
    ['postgresql:///test', /it names no host/],
    [`postgres://app:${PASSWORD}@/test`, /it does not parse as a URL/],
  ];
  for (const [url, reason] of cases) {
    await assert.rejects(openStore(url, KEY), refused(ConfigError, new RegExp(`^db: invalid PostgreSQL URL: ${reason.source}.*\\(expected postgres://USER`)), url.replace(PASSWORD, '…'));
  }
});

test('without OFGW_MASTER_KEY or OFGW_MASTER_KEY_FILE the store refuses to open, and says why', async () => {
  const url = urlWith(() => {});
  for (const options of [{ env: {} }, { env: { OFGW_MASTER_KEY: ' ', OFGW_MASTER_KEY_FILE: '' } }, { masterKey: '', masterKeyFile: '', env: {} }]) {
    await assert.rejects(
      openStore(url, options),
      refused(ConfigError, /^a PostgreSQL store \(127\.0\.0\.1:5432\/test\) needs OFGW_MASTER_KEY .* or OFGW_MASTER_KEY_FILE .*: there is no database file .* every node must decrypt model secrets with the same key$/),
    );
  }
});

test('a search_path naming a schema that does not exist is refused, naming it', { skip }, async () => {
  const url = postgresUrlFor('ofgw_missing_schema', urlWith(() => {}));
  await assert.rejects(openStore(url, KEY), refused(ConfigError, /no schema on the search_path \(ofgw_missing_schema\) exists; create it/));
});

test('a pool size out of range is refused', { skip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  await assert.rejects(openPostgresStore(db.location, { ...KEY, poolSize: 0 }), refused(ConfigError, /pool size must be a whole number from 1 to 1000 \(got 0\)/));
});

test('the URL\'s search_path decides the schema: tables and migrations go there, nowhere else', { skip }, async (t) => {
  const a = await tempDatabase(t, 'postgres');
  const b = await tempDatabase(t, 'postgres');
  await (await a.open()).createOrganization({ name: 'In A' });
  // B's tables are its own, although A already has Kysely's migration table.
  const inB = await b.open();
  assert.equal(await inB.isEmpty(), true);
  await inB.createOrganization({ name: 'In B' });
  for (const db of [a, b]) {
    const tables = await db.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = ? and table_name in ('organizations', 'kysely_migration') order by 1",
      [db.schema],
    );
    assert.deepEqual(tables.map((r) => r.table_name), ['kysely_migration', 'organizations']);
  }
  assert.deepEqual((await a.query<{ name: string }>('select name from organizations')).map((r) => r.name), ['In A']);
  const elsewhere = await a.query("select 1 from information_schema.tables where table_schema = 'public' and table_name = 'organizations'");
  assert.deepEqual(elsewhere, [], 'nothing in public');
});

test('postgresql:// URLs open the same store', { skip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  const store = await openStore(db.location.replace(/^postgres:/, 'postgresql:'), { masterKeyFile: db.keyFile, env: {} });
  t.after(() => store.close());
  assert.equal(await store.isEmpty(), true);
});

test('migrations run once: a second open, and two nodes opening a fresh schema at once, apply nothing twice', { skip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  const [first, second] = await Promise.all([db.open(), db.open()]);
  const names = async () => (await db.query<{ name: string }>('select name from kysely_migration order by name')).map((r) => r.name);
  assert.deepEqual(await names(), MIGRATIONS);
  const org = await first.createOrganization({ name: 'Acme' });
  assert.deepEqual(await second.getOrganization(org.id), org);
  await first.close();
  await second.close();

  const again = await db.open();
  assert.deepEqual(await names(), MIGRATIONS);
  assert.deepEqual(await again.getOrganization(org.id), org);
  assert.equal(await again.latestChangeSeq(), 1);
});

test('a database migrated by a newer version is refused', { skip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  await (await db.open()).close();
  await db.query('insert into kysely_migration (name, timestamp) values (?, ?)', ['999_future', new Date().toISOString()]);
  await assert.rejects(db.open(), /database migration failed/);
});

/** Two stores on one schema, as two gateway nodes, with one model. */
async function twoNodes(db: TempDatabase) {
  const a = await db.open();
  const b = await db.open();
  const org = await a.createOrganization({ name: 'Acme' });
  const model = await a.createModel(org.id, { wsUrl: 'wss://ws.example/ws', wsToken: 'tok' });
  return { a, b, org, model };
}

test('two nodes: a change made on one is in the other\'s change feed, seq a number', { skip }, async (t) => {
  const { a, b, org, model } = await twoNodes(await tempDatabase(t, 'postgres'));
  const seen = await b.latestChangeSeq();
  assert.equal(seen, 2);
  await a.setModelStatus(model.id, 'disconnected');
  const key = await a.createApiKey(org.id);
  await b.revokeApiKey(key.id);
  const changes = await b.changesSince(seen);
  assert.deepEqual(changes.map((c) => [c.seq, c.kind, c.entityId]), [
    [3, 'model', model.id],
    [4, 'api_key', key.id],
    [5, 'api_key', key.id],
  ]);
  assert.deepEqual(await a.changesSince(seen), changes);
  assert.equal(typeof (await a.listModelEvents(model.id))[0]?.seq, 'number');
  assert.equal((await b.findApiKey(key.key))?.revokedAt !== null, true);
});

test('change rows commit in seq order: a poller following the feed while two nodes write never skips one', { skip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  const [a, b, poller] = [await db.open(), await db.open(), await db.open()];
  const writes = 60;
  let writing = true;
  const seen: number[] = [];
  const follow = (async () => {
    let cursor = 0;
    // Bounded: it ends once the writers are done and it has caught up.
    for (let reads = 0; reads < 100_000; reads++) {
      const changes = await poller.changesSince(cursor);
      seen.push(...changes.map((c) => c.seq));
      cursor = changes.at(-1)?.seq ?? cursor;
      if (!writing && changes.length === 0) return;
    }
  })();
  const node = async (store: Store, name: string) => {
    for (let i = 0; i < writes / 2; i++) await store.createOrganization({ name: `${name} ${i}` });
  };
  await Promise.all([node(a, 'A'), node(b, 'B'), node(a, 'A2'), node(b, 'B2')]);
  writing = false;
  await follow;
  const all = (await poller.changesSince(0, 10_000)).map((c) => c.seq);
  assert.equal(all.length, writes * 2);
  assert.deepEqual(seen, all, 'the poller saw every row, in order');
});

test('a node\'s change waits while another node\'s append is in flight, so its seq cannot commit first', { skip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  const [store, poller] = [await db.open(), await db.open()];
  const other = await db.connect();
  // What another node's transaction holds between its change row's insert and its commit.
  await other.query('begin');
  await other.query(`select pg_advisory_xact_lock(${LOCK_CLASS}, hashtext(current_schema() || ':changes'))`);
  const { rows } = await other.query<{ seq: string }>("insert into changes (kind, entity_id, at) values ('organization', 'other-node', now()::text) returning seq");
  const creating = store.createOrganization({ name: 'Acme' });
  await until(() => waitsForLock(db, 'changes'), 'the store to wait for the feed');
  assert.deepEqual(await poller.changesSince(0), [], 'nothing visible while the first append is in flight');
  await other.query('commit');
  const org = await creating;
  assert.deepEqual((await poller.changesSince(0)).map((c) => [c.seq, c.entityId]), [
    [Number(rows[0]!.seq), 'other-node'],
    [Number(rows[0]!.seq) + 1, org.id],
  ]);
});

test('two nodes setting one model\'s status at the same moment record exactly one event per transition', { skip }, async (t) => {
  const { a, b, model } = await twoNodes(await tempDatabase(t, 'postgres'));
  const rounds = 30;
  for (let i = 0; i < rounds; i++) {
    const status = i % 2 === 0 ? 'disconnected' : 'connected';
    const results = await Promise.all([a.setModelStatus(model.id, status), b.setModelStatus(model.id, status), a.setModelStatus(model.id, status)]);
    assert.ok(results.every((r) => r.status === status));
  }
  const events = await kinds(a, model.id);
  assert.equal(events.length, rounds + 1, `one event per transition, got ${events.length - 1} for ${rounds}`);
  assert.deepEqual(events.slice(0, 2), ['connected', 'disconnected']);
  // Change rows: created, then one per transition.
  assert.equal(await b.latestChangeSeq(), 2 + rounds);
});

test('two nodes marking one model\'s credentials rejected at once record one rejection, keeping the first reason', { skip }, async (t) => {
  const { a, b, model } = await twoNodes(await tempDatabase(t, 'postgres'));
  const rounds = 15;
  for (let i = 0; i < rounds; i++) {
    const [fromA, fromB] = await Promise.all([a.markCredentialsRejected(model.id, `A ${i}`), b.markCredentialsRejected(model.id, `B ${i}`)]);
    assert.equal(fromA.credentialsRejectedReason, fromB.credentialsRejectedReason, 'both answer with the one stored rejection');
    assert.equal(fromA.credentialsRejectedAt, fromB.credentialsRejectedAt);
    await (i % 2 === 0 ? a : b).updateModel(model.id, { wsToken: `tok-${i}` });
  }
  const events = await kinds(b, model.id);
  assert.equal(events.filter((k) => k === 'credentials_rejected').length, rounds);
  assert.equal(events.filter((k) => k === 'credentials_updated').length, rounds);
  assert.equal(events.length, 2 * rounds + 1);
});

test('two nodes revoking one key at once record one change and agree on the time', { skip }, async (t) => {
  const { a, b, org } = await twoNodes(await tempDatabase(t, 'postgres'));
  for (let i = 0; i < 10; i++) {
    const key = await a.createApiKey(org.id);
    const before = await a.latestChangeSeq();
    const [fromA, fromB] = await Promise.all([a.revokeApiKey(key.id), b.revokeApiKey(key.id)]);
    assert.equal(fromA.revokedAt, fromB.revokedAt);
    assert.deepEqual((await b.changesSince(before)).map((c) => c.entityId), [key.id]);
  }
});

test('a model mutation waits for another node holding the row, then decides on what it committed', { skip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  const { a, model } = await twoNodes(db);
  const other = await db.connect();
  await other.query('begin');
  await other.query('select status from models where id = $1 for update', [model.id]);
  const pending = a.setModelStatus(model.id, 'disconnected');
  await until(() => waitsForModelRow(db), 'the store to wait for the row');
  await other.query("update models set status = 'disconnected' where id = $1", [model.id]);
  await other.query('commit');
  assert.equal((await pending).status, 'disconnected');
  assert.deepEqual(await kinds(a, model.id), ['created'], 'the status was already set: no event');
});

test('a node stuck holding a model\'s row makes another node\'s mutation fail after the lock timeout, not hang', { skip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  const { a, model } = await twoNodes(db);
  const stuck = await db.connect();
  await stuck.query('begin');
  await stuck.query('select 1 from models where id = $1 for update', [model.id]);
  const started = Date.now();
  await assert.rejects(a.setModelStatus(model.id, 'disconnected'), /lock timeout/);
  assert.ok(Date.now() - started >= 4900, 'it waited for the holder first');
  await stuck.query('rollback');
  assert.equal((await a.setModelStatus(model.id, 'disconnected')).status, 'disconnected');
  assert.deepEqual(await kinds(a, model.id), ['disconnected', 'created'], 'the failed attempt wrote nothing');
});

test('a key change (rotate, prune) waits for a secret write in flight on another node', { skip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  const store = await db.open();
  const admin = await db.openSecretsAdmin();
  const writer = await db.connect();
  // What a node's createModel holds while it encrypts, before it commits.
  await writer.query('begin');
  await writer.query(`select pg_advisory_xact_lock_shared(${LOCK_CLASS}, hashtext(current_schema() || ':secrets'))`);
  let done = false;
  const rotating = admin.rotate().then((result) => ((done = true), result));
  await until(() => waitsForLock(db, 'secrets'), 'the rotation to wait');
  assert.equal(done, false);
  await writer.query('commit');
  const result = await rotating;
  assert.deepEqual(result.failed, []);
  assert.equal(admin.keyring.currentKeyId(), result.keyId);
  // The store writes under the new key at once.
  const org = await store.createOrganization({ name: 'Acme' });
  const model = await store.createModel(org.id, { wsUrl: 'wss://ws.example/ws', wsToken: 'tok' });
  const [row] = await db.query<{ ws_token: string }>('select ws_token from models where id = ?', [model.id]);
  assert.equal(row?.ws_token.split(':')[1], result.keyId);
});

test('plaintext written into the rows behind the store\'s back is encrypted on the next open', { skip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Acme' });
  const model = await store.createModel(org.id, { wsUrl: 'wss://ws.example/ws', wsToken: 'tok' });
  await store.close();
  await db.query("update models set ws_token = 'planted-token', cookie = 'sess=planted', proxy_url = 'http://u:planted-pw@proxy:3128' where id = ?", [model.id]);
  const reopened = await db.open();
  assert.deepEqual(await reopened.getModelCredentials(model.id), {
    wsUrl: 'wss://ws.example/ws',
    wsToken: 'planted-token',
    userAgent: null,
    cookie: 'sess=planted',
    proxyUrl: 'http://u:planted-pw@proxy:3128',
  });
  assert.equal((await reopened.getModel(model.id))?.proxyUrl, 'http://u:***@proxy:3128');
  const rows = (await db.contents()).toString();
  for (const value of ['planted-token', 'sess=planted', 'planted-pw']) assert.equal(rows.includes(value), false, `${value} in clear`);
});

test('an idle connection that the server ends is reported, and does not crash the process; the store carries on', { skip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  const application = `ofgw-test-${randomBytes(4).toString('hex')}`;
  const url = new URL(db.location);
  url.searchParams.set('application_name', application);
  const store = await openPostgresStore(url.toString(), { masterKeyFile: db.keyFile, env: {} });
  t.after(() => store.close());
  const org = await store.createOrganization({ name: 'Acme' });

  const reported: StoreConnectionErrorMessage[] = [];
  const listener = (message: unknown): void => void reported.push(message as StoreConnectionErrorMessage);
  diagnostics.subscribe(storeConnectionError.name, listener);
  t.after(() => diagnostics.unsubscribe(storeConnectionError.name, listener));

  const ended = await db.query<{ ended: boolean }>('select pg_terminate_backend(pid) as ended from pg_stat_activity where application_name = ?', [application]);
  assert.ok(ended.length >= 1 && ended.every((r) => r.ended), 'the store had an idle connection');
  await until(async () => reported.length >= ended.length, 'the pool to report the ended connection');
  assert.equal(reported[0]?.where, `127.0.0.1:5432/test`);
  assert.match(reported[0]?.message ?? '', /terminat/i);
  assert.deepEqual(await store.getOrganization(org.id), org, 'a new connection serves the next query');
});
