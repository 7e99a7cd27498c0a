import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { CompiledRead } from '../../src/store/compiled-read.js';
import { ImmediateTransactionSqliteDialect } from '../../src/store/sqlite-dialect.js';
import { postgresSkip, tempDatabase } from './temp-store.js';

interface Tables {
  items: { id: string; label: string; kind: string };
}

function kysely() {
  return new Kysely<Tables>({ dialect: new ImmediateTransactionSqliteDialect({ database: new Database(':memory:') }) });
}

test('a compiled read keeps the SQL and swaps in the value', async (t) => {
  const db = kysely();
  t.after(() => db.destroy());
  await db.schema.createTable('items').addColumn('id', 'text', (c) => c.primaryKey()).addColumn('label', 'text').addColumn('kind', 'text').execute();
  await db.insertInto('items').values([{ id: 'a', label: 'A', kind: 'x' }, { id: 'b', label: 'B', kind: 'y' }]).execute();

  const read = new CompiledRead((id) => db.selectFrom('items').select(['id', 'label']).where('id', '=', id));
  const built = db.selectFrom('items').select(['id', 'label']).where('id', '=', 'b').compile();
  const compiled = read.with('b');
  assert.equal(compiled.sql, built.sql);
  assert.deepEqual(compiled.parameters, ['b']);
  assert.notEqual(read.with('b').queryId, compiled.queryId, 'each execution gets its own query id');

  assert.deepEqual((await db.executeQuery(read.with('a'))).rows, [{ id: 'a', label: 'A' }]);
  assert.deepEqual((await db.executeQuery(read.with('b'))).rows, [{ id: 'b', label: 'B' }]);
  assert.deepEqual((await db.executeQuery(read.with('zz'))).rows, []);
});

test('a compiled read refuses a query that does not bind exactly its one value', () => {
  const db = kysely();
  assert.throws(() => new CompiledRead(() => db.selectFrom('items').selectAll()), /exactly one value, got 0/);
  assert.throws(
    () => new CompiledRead((id) => db.selectFrom('items').selectAll().where('id', '=', id).where('kind', '=', 'x')),
    /exactly one value, got 2/,
  );
  assert.throws(() => new CompiledRead(() => db.selectFrom('items').selectAll().where('id', '=', 'fixed')), /exactly one value/);
});

test('on PostgreSQL a compiled read binds $1 and reads the value given', { skip: postgresSkip }, async (t) => {
  const temp = await tempDatabase(t, 'postgres');
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: temp.location, max: 1 }) }) });
  t.after(() => db.destroy());
  await db.schema.createTable('items').addColumn('id', 'text', (c) => c.primaryKey()).addColumn('label', 'text').addColumn('kind', 'text').execute();
  await db.insertInto('items').values([{ id: 'a', label: 'A', kind: 'x' }, { id: 'b', label: 'B', kind: 'y' }]).execute();

  const read = new CompiledRead((id) => db.selectFrom('items').select(['id', 'label']).where('id', '=', id));
  assert.equal(read.with('a').sql, 'select "id", "label" from "items" where "id" = $1');
  assert.deepEqual((await db.executeQuery(read.with('a'))).rows, [{ id: 'a', label: 'A' }]);
  assert.deepEqual((await db.executeQuery(read.with('b'))).rows, [{ id: 'b', label: 'B' }]);
  assert.deepEqual((await db.executeQuery(read.with('zz'))).rows, []);
});
