/**
 * `ofgw secrets status|rotate|prune` and the record commands against PostgreSQL, as real
 * processes, each test on a schema of its own: with a key file, with OFGW_MASTER_KEY, with
 * no key at all, and with the URL from DATABASE_URL.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { POSTGRES_URL } from '../services.js';
import { postgresSkip, postgresUrlFor, tempDatabase, type TempDatabase } from '../store/temp-store.js';
import { runCli } from './cli-helpers.js';

/** The runner's own settings must not leak into these processes. */
const CLEAN = { OFGW_MASTER_KEY: '', OFGW_MASTER_KEY_PREVIOUS: '', OFGW_MASTER_KEY_FILE: '' };
const PASSWORD = 'pg-S3cret-pw';
const skip = postgresSkip;

interface Status {
  source: string;
  current: string;
  keys: { id: string; current: boolean; known: boolean; values: number; unreadable: number }[];
  unreadable: number;
}

/** The test schema's URL, with a password trust auth ignores (so outputs can be checked for it). */
function urlOf(db: TempDatabase): string {
  const base = new URL(POSTGRES_URL);
  base.password = PASSWORD;
  return postgresUrlFor(db.schema!, base.toString());
}

const cli = (args: string[], env: Record<string, string>) => runCli(args, { ...CLEAN, ...env });

async function addModel(url: string, env: Record<string, string>) {
  const org = await cli(['org', 'create', '--name', 'Acme', '--json', '--db', url], env);
  assert.equal(org.code, 0, org.stderr);
  const token = `tok-${randomBytes(6).toString('hex')}`;
  const added = await cli(
    ['model', 'add', '--org', org.json<{ id: string }>().id, '--ws-url', 'wss://ws2.onlyfans.com/ws3/1', '--ws-token', token, '--cookie', 'sess=c00kie', '--proxy', 'http://u:pr0xypw@127.0.0.1:3128', '--json', '--db', url],
    env,
  );
  assert.equal(added.code, 0, added.stderr);
  return { modelId: added.json<{ id: string }>().id, token };
}

test('secrets status, rotate and prune with OFGW_MASTER_KEY_FILE; nothing in clear in the rows', { skip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  const url = urlOf(db);
  const keyFile = join(db.dir, 'cluster.keys');
  const env = { OFGW_MASTER_KEY_FILE: keyFile };
  const { modelId, token } = await addModel(url, env);

  const before = await cli(['secrets', 'status', '--json', '--db', url], env);
  assert.equal(before.code, 0, before.stderr);
  const s1 = before.json<Status>();
  assert.equal(s1.source, 'file');
  assert.deepEqual(s1.keys, [{ id: s1.current, current: true, known: true, values: 3, unreadable: 0 }]);

  const rotated = await cli(['secrets', 'rotate', '--batch-size', '1', '--json', '--db', url], env);
  assert.equal(rotated.code, 0, rotated.stderr);
  const r = rotated.json<{ keyId: string; reencrypted: number }>();
  assert.notEqual(r.keyId, s1.current);
  assert.equal(r.reencrypted, 3);
  const middle = (await cli(['secrets', 'status', '--json', '--db', url], env)).json<Status>();
  assert.deepEqual(middle.keys.map((k) => [k.id, k.current, k.values]), [[r.keyId, true, 3], [s1.current, false, 0]]);

  const pruned = await cli(['secrets', 'prune', '--json', '--db', url], env);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.deepEqual(pruned.json<{ removed: string[] }>().removed, [s1.current]);
  assert.deepEqual(Object.keys((JSON.parse(readFileSync(keyFile, 'utf8')) as { keys: object }).keys), [r.keyId]);

  const shown = await cli(['model', 'show', modelId, '--json', '--db', url], env);
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal(shown.json().hasWsToken, true);
  const rows = (await db.contents()).toString();
  assert.ok(rows.includes(`ofgw1:${r.keyId}:`), 'sanity: the rows hold values under the new key');
  for (const secret of [token, 'sess=c00kie', 'pr0xypw']) assert.equal(rows.includes(secret), false, 'a secret in clear in the rows');
  for (const out of [before, rotated, pruned, shown]) assert.ok(!(out.stdout + out.stderr).includes(PASSWORD));
});

test('secrets rotate with a new OFGW_MASTER_KEY and the old one in OFGW_MASTER_KEY_PREVIOUS; prune does not apply', { skip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  const url = urlOf(db);
  const oldKey = randomBytes(32).toString('base64');
  const newKey = randomBytes(32).toString('base64');
  const { modelId } = await addModel(url, { OFGW_MASTER_KEY: oldKey });

  const env = { OFGW_MASTER_KEY: newKey, OFGW_MASTER_KEY_PREVIOUS: oldKey };
  const rotated = await cli(['secrets', 'rotate', '--json', '--db', url], env);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.equal(rotated.json().reencrypted, 3);
  const status = (await cli(['secrets', 'status', '--json', '--db', url], env)).json<Status>();
  assert.equal(status.source, 'env');
  assert.deepEqual(status.keys.map((k) => k.values), [3, 0]);
  const prune = await cli(['secrets', 'prune', '--json', '--db', url], env);
  assert.equal(prune.code, 2);
  assert.match(JSON.parse(prune.stderr).error, /prune does not apply to keys from OFGW_MASTER_KEY/);
  const onlyNew = await cli(['model', 'show', modelId, '--json', '--db', url], { OFGW_MASTER_KEY: newKey });
  assert.equal(onlyNew.code, 0, onlyNew.stderr);
});

test('without a master key every command refuses the PostgreSQL store, saying why, with exit code 2', { skip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  const url = urlOf(db);
  for (const args of [['secrets', 'status'], ['org', 'list']]) {
    const result = await cli([...args, '--json', '--db', url], {});
    assert.equal(result.code, 2, result.stderr);
    const { error, code } = JSON.parse(result.stderr) as { error: string; code: string };
    assert.equal(code, 'CONFIG');
    assert.match(error, /^a PostgreSQL store \(127\.0\.0\.1:5432\/test\) needs OFGW_MASTER_KEY .* or OFGW_MASTER_KEY_FILE .*every node must decrypt model secrets with the same key$/);
    assert.ok(!result.stderr.includes(PASSWORD));
  }
});

test('an unreachable PostgreSQL fails the command with where and why, never the password', { skip }, async () => {
  const url = new URL(POSTGRES_URL);
  url.password = PASSWORD;
  url.port = '1';
  const result = await cli(['secrets', 'status', '--json', '--db', url.toString()], { OFGW_MASTER_KEY: randomBytes(32).toString('base64') });
  assert.equal(result.code, 1);
  assert.equal(JSON.parse(result.stderr).error, 'cannot connect to PostgreSQL at 127.0.0.1:1/test: ECONNREFUSED');
});

test('DATABASE_URL names the store when neither --db nor OFGW_DB does; --db wins over it', { skip: skip || (process.env.OFGW_DB !== undefined && 'OFGW_DB is set for this run') }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  const other = await tempDatabase(t, 'postgres');
  const env = { DATABASE_URL: urlOf(db), OFGW_MASTER_KEY: randomBytes(32).toString('base64') };
  const created = await cli(['org', 'create', '--name', 'From DATABASE_URL', '--json'], env);
  assert.equal(created.code, 0, created.stderr);
  assert.deepEqual(await db.query('select name from organizations'), [{ name: 'From DATABASE_URL' }]);
  const status = await cli(['secrets', 'status', '--json'], env);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(status.json<Status>().source, 'env');

  const flagged = await cli(['org', 'create', '--name', 'From --db', '--json', '--db', urlOf(other)], env);
  assert.equal(flagged.code, 0, flagged.stderr);
  assert.deepEqual(await other.query('select name from organizations'), [{ name: 'From --db' }]);
  assert.equal((await db.query('select name from organizations')).length, 1);
});
