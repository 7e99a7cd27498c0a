import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { openStore } from '../../src/store/index.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { storeTest, tempDatabase } from './temp-store.js';

const MIGRATIONS = ['001_initial', '002_model_lifecycle', '003_operator_audit', '004_model_delivery', '005_webhooks'];

function migrationNames(path: string): string[] {
  const raw = new Database(path, { readonly: true });
  try {
    return raw.prepare('select name from kysely_migration order by name').pluck().all() as string[];
  } finally {
    raw.close();
  }
}

test('open creates the missing folder, runs migrations once and reopens without rerunning them', async (t) => {
  const db = await tempDatabase(t);
  assert.equal(existsSync(db.location), false);
  const first = await db.open();
  assert.equal(existsSync(db.location), true);
  assert.deepEqual(migrationNames(db.location), MIGRATIONS);
  await first.close();

  await db.open();
  assert.deepEqual(migrationNames(db.location), MIGRATIONS);
});

test('the file is in WAL mode', async (t) => {
  const db = await tempDatabase(t);
  await db.open();
  const raw = new Database(db.location, { readonly: true });
  t.after(() => raw.close());
  assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
});

test('data survives close and reopen', async (t) => {
  const db = await tempDatabase(t);
  const first = await db.open();
  const org = await first.createOrganization({ name: 'Acme' });
  const model = await first.createModel(org.id, { wsUrl: 'wss://ws.example/ws', wsToken: 'tok' });
  await first.close();

  const second = await db.open();
  assert.deepEqual(await second.getOrganization(org.id), org);
  assert.deepEqual(await second.getModel(model.id), model);
  assert.equal(await second.latestChangeSeq(), 2);
});

test('a database migrated by a newer version is refused', async (t) => {
  const db = await tempDatabase(t);
  await (await db.open()).close();
  const raw = new Database(db.location);
  raw.prepare('insert into kysely_migration (name, timestamp) values (?, ?)').run('999_future', new Date().toISOString());
  raw.close();
  await assert.rejects(openSqliteStore(db.location), /database migration failed/);
});

test(':memory: opens a private, migrated database', async (t) => {
  const store = await openSqliteStore(':memory:');
  t.after(() => store.close());
  assert.equal(await store.isEmpty(), true);
  await store.createOrganization({ name: 'In memory' });
  assert.equal(await store.isEmpty(), false);
});

test('openStore opens a SQLite file path', async (t) => {
  const db = await tempDatabase(t);
  const store = await openStore(db.location);
  t.after(() => store.close());
  assert.equal(await store.isEmpty(), true);
});

test('a write waits for another connection\'s write lock instead of failing', async (t) => {
  const db = await tempDatabase(t);
  const store = await db.open();
  // Another thread stands in for the CLI process: it holds the write lock for a moment.
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const Database = require(workerData.module);
     const raw = new Database(workerData.path);
     raw.exec('begin immediate');
     raw.prepare("insert into organizations (id, name, sandbox, created_at) values ('00000000-0000-4000-8000-000000000001', 'CLI', 0, '2026-01-01T00:00:00.000Z')").run();
     parentPort.postMessage('locked');
     setTimeout(() => { raw.exec('commit'); raw.close(); }, 300);`,
    { eval: true, workerData: { path: db.location, module: createRequire(import.meta.url).resolve('better-sqlite3') } },
  );
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  await new Promise((resolve) => worker.once('message', resolve));
  await store.createOrganization({ name: 'Server' });
  await exited;
  assert.deepEqual((await store.listOrganizations()).map((o) => o.name).sort(), ['CLI', 'Server']);
});

// Issue 13 item 5: a mistyped --db made a new, empty store (and its folders) for read commands.
storeTest('createIfMissing: false where no store is: NOT_FOUND naming the location, and nothing created', async (db) => {
  const refused = await db.open({ createIfMissing: false }).then(
    () => assert.fail('opened a store that does not exist'),
    (error: unknown) => error as { code?: string; message?: string },
  );
  assert.equal(refused.code, 'NOT_FOUND');
  const where = db.engine === 'sqlite' ? db.location : `127.0.0.1:5432/test (schema ${db.schema})`;
  assert.equal(refused.message, `no store at ${where}`);
  assert.equal(existsSync(db.keyFile), false, 'no key file');
  if (db.engine === 'sqlite') assert.equal(existsSync(dirname(db.location)), false, 'no folder');
  else assert.deepEqual(await db.query('select table_name from information_schema.tables where table_schema = ?', [db.schema]), [], 'no tables');

  // Once a store is there, the same open works.
  const created = await db.open();
  await created.createOrganization({ name: 'Acme' });
  const existing = await db.open({ createIfMissing: false });
  assert.deepEqual((await existing.listOrganizations()).map((o) => o.name), ['Acme']);
});

test('createIfMissing: false leaves a file that holds no store as it was', async (t) => {
  const db = await tempDatabase(t);
  await (await db.open()).close();
  for (const content of [Buffer.alloc(0), Buffer.from('not a database')]) {
    const path = `${db.location}-other`;
    writeFileSync(path, content);
    await assert.rejects(openSqliteStore(path, { createIfMissing: false, env: {} }), (error: Error) => !existsSync(`${path}-wal`) && /no store at|not a database/.test(error.message));
    assert.deepEqual(readFileSync(path), content, 'the file is unchanged');
  }
});
