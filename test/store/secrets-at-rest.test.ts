/**
 * Model secrets at rest: encrypted in the database, bound to their row and field, readable
 * through the store, and rotated without stopping a server that has the store open. On both
 * engines, except what only a SQLite file has (its WAL, a file written by older versions).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { stdSerializers } from 'pino';
import { loadKeyring } from '../../src/secrets/load.js';
import type { RotationStep } from '../../src/store/index.js';
import * as initial from '../../src/store/migrations/001_initial.js';
import type { NewModel, Store } from '../../src/store/types.js';
import { storeTest, tempDatabase, type TempDatabase } from './temp-store.js';
import { isSecretsError } from '../secrets/assertions.js';

/** Distinct, greppable secrets per model. */
function secrets(label: string): NewModel & { password: string } {
  const tag = randomBytes(6).toString('hex');
  const password = `pw-${label}-${tag}`;
  return {
    wsUrl: 'wss://ws2.onlyfans.com/ws3/',
    wsToken: `tok-${label}-${tag}`,
    userAgent: 'UA/1',
    cookie: `sess=cookie-${label}-${tag}`,
    proxyUrl: `http://proxyuser:${password}@proxy.example:3128`,
    password,
  };
}

function modelInput({ password: _password, ...input }: NewModel & { password: string }): NewModel {
  return input;
}

/** A column of one model's row, read straight from the database. */
async function column(db: TempDatabase, name: string, id: string): Promise<string> {
  const [row] = await db.query<Record<string, string>>(`select ${name} from models where id = ?`, [id]);
  return row![name]!;
}

function assertNoClearSecrets(bytes: Buffer, all: (NewModel & { password: string })[]): void {
  for (const s of all) {
    for (const value of [s.wsToken, s.cookie!, s.password]) {
      assert.equal(bytes.includes(value), false, `found a secret in clear in the database file: ${value.split('-')[0]}…`);
    }
  }
}

async function seed(store: Store, count: number, label = 'm') {
  const org = await store.createOrganization({ name: 'Acme' });
  const made = [];
  for (let i = 0; i < count; i++) {
    const s = secrets(`${label}${i}`);
    made.push({ ...s, id: (await store.createModel(org.id, modelInput(s))).id });
  }
  return { org, made };
}

storeTest('secrets round-trip through the store, while listings show only flags and a masked proxy', async (db) => {
  const store = await db.open();
  const { made } = await seed(store, 1);
  const [m] = made as [(typeof made)[0]];
  const record = await store.getModel(m.id);
  assert.equal(record?.proxyUrl, 'http://proxyuser:***@proxy.example:3128');
  assert.deepEqual(await store.getModelCredentials(m.id), { wsUrl: m.wsUrl, wsToken: m.wsToken, userAgent: 'UA/1', cookie: m.cookie, proxyUrl: m.proxyUrl });
  const [row] = await db.query<Record<string, string>>('select ws_token, cookie, proxy_url, proxy_url_masked from models');
  for (const name of ['ws_token', 'cookie', 'proxy_url']) assert.match(row![name]!, /^ofgw1:k\d{14}-[0-9a-f]{6}:[\w-]{16}:[\w-]+$/);
  assert.equal(row!.proxy_url_masked, 'http://proxyuser:***@proxy.example:3128');
});

storeTest('the raw database (a SQLite file and its WAL; PostgreSQL rows) holds no token, cookie or proxy password in clear', async (db) => {
  const store = await db.open();
  const { made } = await seed(store, 3);
  // Updates and refreshes write secrets too; old values must not linger in freed space.
  const replaced = secrets('replaced');
  await store.updateModel(made[0]!.id, { wsToken: `${replaced.wsToken}-v2`, cookie: replaced.cookie, proxyUrl: replaced.proxyUrl });
  await store.refreshCredentials(made[1]!.id, { wsUrl: 'wss://ws3.onlyfans.com/ws3/', wsToken: `${replaced.wsToken}-v3` });
  const all = [...made, replaced];

  const whileOpen = await db.contents();
  if (db.engine === 'sqlite') assert.ok(existsSync(`${db.location}-wal`), 'the WAL is read too');
  assert.ok(whileOpen.includes('ofgw1:'), 'sanity: the file holds the encrypted values');
  assert.ok(whileOpen.includes('proxy.example'), 'sanity: the masked proxy is in clear');
  assertNoClearSecrets(whileOpen, all);
  assert.equal(whileOpen.includes(`${replaced.wsToken}-v2`), false);

  await store.close();
  assertNoClearSecrets(await db.contents(), all);
});

storeTest('a value copied to another model, organization or field fails authentication, naming the field and model', async (db) => {
  const store = await db.open();
  const { made } = await seed(store, 2);
  const otherOrg = await seed(store, 1, 'other');
  const [a, b] = made as [(typeof made)[0], (typeof made)[0]];
  const c = otherOrg.made[0]!;

  await db.query('update models set ws_token = (select ws_token from models where id = ?) where id = ?', [a.id, b.id]);
  await assert.rejects(store.getModelCredentials(b.id), isSecretsError('DECRYPT_FAILED', new RegExp(`^cannot decrypt wsToken of model ${b.id}: .*failed authentication`)));

  await db.query('update models set cookie = (select cookie from models where id = ?) where id = ?', [a.id, c.id]);
  await assert.rejects(store.getModelCredentials(c.id), isSecretsError('DECRYPT_FAILED', /cookie of model/));

  await db.query('update models set proxy_url = ws_token where id = ?', [a.id]);
  await assert.rejects(store.getModelCredentials(a.id), (error: unknown) => {
    isSecretsError('DECRYPT_FAILED', /proxyUrl of model/)(error);
    assert.ok(!(error as Error).message.includes(a.wsToken) && !(error as Error).message.includes('ofgw1:'), 'no value in the message');
    return true;
  });
});

storeTest('a tampered, foreign-key or plaintext value is refused clearly', async (db) => {
  const store = await db.open();
  const { made, org } = await seed(store, 1);
  const m = made[0]!;
  const stored = await column(db, 'ws_token', m.id);
  // Flip a ciphertext byte (editing the last base64 character may only touch padding bits).
  const parts = stored.split(':');
  const body = Buffer.from(parts[3]!, 'base64url');
  body[0] = body[0]! ^ 0x01;
  await db.query('update models set ws_token = ? where id = ?', [[...parts.slice(0, 3), body.toString('base64url')].join(':'), m.id]);
  await assert.rejects(store.getModelCredentials(m.id), isSecretsError('DECRYPT_FAILED', /wsToken of model .*tampered/));

  const foreign = loadKeyring({ dbLocation: ':memory:', env: {} });
  const aad = `ofgw:model:${org.id}:${m.id}:wsToken`;
  await db.query('update models set ws_token = ? where id = ?', [foreign.encrypt('x', aad), m.id]);
  await assert.rejects(store.getModelCredentials(m.id), isSecretsError('UNKNOWN_KEY', new RegExp(`key ${foreign.currentKeyId()}, which .*ofgw\\.keys does not hold`)));

  await db.query('update models set ws_token = ? where id = ?', ['planted-clear-token', m.id]);
  await assert.rejects(store.getModelCredentials(m.id), (error: unknown) => {
    isSecretsError('MALFORMED', /wsToken of model/)(error);
    assert.ok(!(error as Error).message.includes('planted-clear-token'));
    return true;
  });

  // The operator's way out: new credentials replace the unreadable value.
  await store.updateModel(m.id, { wsToken: 'tok-fixed' });
  assert.equal((await store.getModelCredentials(m.id))?.wsToken, 'tok-fixed');
});

storeTest('the key file (beside a SQLite file, or OFGW_MASTER_KEY_FILE) is created 0600 on first open, and must not silently be replaced', async (db) => {
  const store = await db.open();
  const keyFile = db.keyFile;
  if (process.platform !== 'win32') assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'POSIX modes');
  await seed(store, 1);
  await store.close();

  rmSync(keyFile);
  await assert.rejects(db.open(), isSecretsError('KEY_FILE_MISSING', /holds encrypted secrets but its key file .*ofgw\.keys does not exist/));
  assert.equal(existsSync(keyFile), false, 'no new key was generated over the lost one');
});

test('a SQLite file written before encryption at rest is migrated and encrypted on open, nothing lost', async (t) => {
  const db = await tempDatabase(t);
  const old = secrets('legacy');
  const bare = { ...secrets('bare'), cookie: null, proxyUrl: null };
  const noPassword = { ...secrets('nopass'), proxyUrl: 'socks5://proxy.example:1080' };
  // Build the file exactly as the previous version did: migration 001 only, secrets in clear.
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(db.dir, 'data'), { recursive: true });
  const sqlite = new Database(db.location);
  sqlite.pragma('journal_mode = WAL');
  const kysely = new Kysely<unknown>({ dialect: new SqliteDialect({ database: sqlite }) });
  const { error } = await new Migrator({
    db: kysely,
    provider: { getMigrations: async () => ({ '001_initial': { up: (d: Kysely<unknown>) => initial.up(d, 'sqlite') } }) },
  }).migrateToLatest();
  assert.equal(error, undefined);
  const orgId = '00000000-0000-4000-8000-0000000000aa';
  const at = '2026-01-01T00:00:00.000Z';
  sqlite.prepare('insert into organizations (id, name, sandbox, created_at) values (?, ?, 0, ?)').run(orgId, 'Old', at);
  const insert = sqlite.prepare(
    'insert into models (id, org_id, name, status, ws_url, ws_token, user_agent, cookie, proxy_url, created_at, updated_at) values (?, ?, null, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const ids = ['00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-0000000000b2', '00000000-0000-4000-8000-0000000000b3'];
  [old, bare, noPassword].forEach((s, i) => insert.run(ids[i], orgId, 'connected', s.wsUrl, s.wsToken, s.userAgent, s.cookie, s.proxyUrl, at, at));
  await kysely.destroy();
  assert.ok((await db.contents()).includes(old.wsToken), 'sanity: the old file has the token in clear');

  const store = await db.open();
  assert.deepEqual(await store.getModelCredentials(ids[0]!), { wsUrl: old.wsUrl, wsToken: old.wsToken, userAgent: 'UA/1', cookie: old.cookie, proxyUrl: old.proxyUrl });
  assert.deepEqual(await store.getModelCredentials(ids[1]!), { wsUrl: bare.wsUrl, wsToken: bare.wsToken, userAgent: 'UA/1', cookie: null, proxyUrl: null });
  assert.equal((await store.getModelCredentials(ids[2]!))?.proxyUrl, 'socks5://proxy.example:1080');
  const record = await store.getModel(ids[0]!);
  assert.equal(record?.proxyUrl, 'http://proxyuser:***@proxy.example:3128');
  assert.equal(record?.credentialsRejectedAt, null);
  assert.equal((await store.getModel(ids[2]!))?.proxyUrl, 'socks5://proxy.example:1080');
  assert.deepEqual(await store.listModelEvents(ids[0]!), [], 'the trail starts with this version');
  assertNoClearSecrets(await db.contents(), [old, { ...bare, cookie: 'unused-cookie', password: 'unused-password' }]);
  await store.close();
  assertNoClearSecrets(await db.contents(), [old]);

  // Opening again finds nothing left to encrypt and changes nothing.
  const before = await db.query('select ws_token from models order by id');
  const again = await db.open();
  assert.deepEqual(await db.query('select ws_token from models order by id'), before);
  assert.equal((await again.getModelCredentials(ids[0]!))?.wsToken, old.wsToken);
});

storeTest('OFGW_MASTER_KEY mode: no key file, the same key reads, another key is refused', async (db) => {
  const key = randomBytes(32).toString('base64');
  const store = await db.open({ env: { OFGW_MASTER_KEY: key } });
  const { made } = await seed(store, 2);
  assert.equal(existsSync(db.keyFile), false);
  const again = await db.open({ masterKey: key, env: {} });
  assert.equal((await again.getModelCredentials(made[1]!.id))?.wsToken, made[1]!.wsToken);

  const wrong = await db.open({ env: { OFGW_MASTER_KEY: randomBytes(32).toString('base64') } });
  await assert.rejects(wrong.getModelCredentials(made[0]!.id), isSecretsError('UNKNOWN_KEY', /which OFGW_MASTER_KEY does not hold/));
});

storeTest('a decryption error names its cause once (the relay\'s log line said it twice)', async (db) => {
  const store = await db.open({ env: { OFGW_MASTER_KEY: randomBytes(32).toString('base64') } });
  const { made } = await seed(store, 1);
  const wrong = await db.open({ env: { OFGW_MASTER_KEY: randomBytes(32).toString('base64') } });
  const error = await wrong.getModelCredentials(made[0]!.id).then(
    () => assert.fail('decrypted with the wrong key'),
    (e: unknown) => e as Error,
  );
  // What pino writes for `err`: the message followed by each cause's.
  const logged = stdSerializers.err(error).message;
  assert.match(logged, /^cannot decrypt wsToken of model \S+: stored secret is encrypted with key env-\w+, which OFGW_MASTER_KEY does not hold$/);
});

storeTest('opened for serving, the store refuses keys that cannot decrypt what it holds, naming each key id (it started and failed every relay)', async (db) => {
  const key = randomBytes(32).toString('base64');
  const other = randomBytes(32).toString('base64');
  const store = await db.open({ env: { OFGW_MASTER_KEY: key } });
  const { made } = await seed(store, 2);
  const keyId = (await db.openSecretsAdmin({ env: { OFGW_MASTER_KEY: key } })).keyring.currentKeyId();
  const refusedWith = (env: NodeJS.ProcessEnv, message: RegExp) =>
    assert.rejects(db.open({ env, verifyKeys: true }), (error: unknown) => {
      isSecretsError('KEYRING_MISMATCH', message)(error);
      for (const material of [key, other]) assert.ok(!(error as Error).message.includes(material), 'no key material in the message');
      return true;
    });

  // A different key: the key id the values name is missing.
  await refusedWith({ OFGW_MASTER_KEY: other }, new RegExp(`^the store holds model secrets these keys cannot decrypt: OFGW_MASTER_KEY has no key ${keyId} \\(6 values\\)\\. Start with the key that encrypted them`));
  // The right id with the wrong key behind it.
  await refusedWith({ OFGW_MASTER_KEY: other, OFGW_MASTER_KEY_PREVIOUS: `${keyId}:${other}` }, new RegExp(`the key ${keyId} \\(6 values\\) in OFGW_MASTER_KEY is not the one that encrypted them`));
  // Without the check (the CLI's record commands) the store opens, as before.
  await (await db.open({ env: { OFGW_MASTER_KEY: other } })).listModels();

  // One damaged value is not a wrong key: the right key still opens the store for serving.
  await db.query('update models set cookie = (select cookie from models where id = ?) where id = ?', [made[0]!.id, made[1]!.id]);
  await (await db.open({ env: { OFGW_MASTER_KEY: key }, verifyKeys: true })).listModels();

  // `secrets status` tries every value: the damaged one, and all six under a missing key.
  const right = await (await db.openSecretsAdmin({ env: { OFGW_MASTER_KEY: key } })).status();
  assert.equal(right.unreadable, 1);
  assert.deepEqual(right.keys.map((k) => [k.id, k.known, k.values, k.unreadable]), [[keyId, true, 6, 1]]);
  const wrongStatus = await (await db.openSecretsAdmin({ env: { OFGW_MASTER_KEY: other } })).status();
  assert.equal(wrongStatus.unreadable, 6);
  assert.deepEqual(wrongStatus.keys.map((k) => [k.known, k.values, k.unreadable]), [[true, 0, 0], [false, 6, 6]]);
});

storeTest('OFGW_MASTER_KEY rotation: the new key with the old one in OFGW_MASTER_KEY_PREVIOUS re-encrypts everything', async (db) => {
  const oldKey = randomBytes(32).toString('base64');
  const newKey = randomBytes(32).toString('base64');
  const store = await db.open({ env: { OFGW_MASTER_KEY: oldKey } });
  const { made } = await seed(store, 3);
  await store.close();

  const env = { OFGW_MASTER_KEY: newKey, OFGW_MASTER_KEY_PREVIOUS: oldKey };
  const admin = await db.openSecretsAdmin({ env });
  const newId = admin.keyring.currentKeyId();
  const result = await admin.rotate();
  assert.deepEqual(result, { keyId: newId, reencrypted: 9, failed: [] });
  const status = await admin.status();
  assert.equal(status.source, 'env');
  assert.deepEqual(status.keys.map((k) => [k.current, k.values]), [[true, 9], [false, 0]]);
  await assert.rejects(admin.prune(), isSecretsError('NOT_APPLICABLE', /OFGW_MASTER_KEY_PREVIOUS/));

  const onlyNew = await db.open({ env: { OFGW_MASTER_KEY: newKey } });
  for (const m of made) assert.equal((await onlyNew.getModelCredentials(m.id))?.cookie, m.cookie);
});

storeTest('rotation with a running server: it keeps reading and writing between steps, every value survives, prune leaves the new key', async (db) => {
  const server = await db.open();
  const { org, made } = await seed(server, 5);
  const expected = new Map(made.map((m) => [m.id, { wsToken: m.wsToken, cookie: m.cookie, proxyUrl: m.proxyUrl }]));
  const admin = await db.openSecretsAdmin();
  const oldId = admin.keyring.currentKeyId();
  const keyIdOf = async (id: string): Promise<string> => (await column(db, 'ws_token', id)).split(':')[1]!;

  const steps: RotationStep[] = [];
  let writes = 0;
  const result = await admin.rotate({
    batchSize: 2,
    async onStep(step) {
      steps.push(step);
      // The server reads every model's credentials, whichever key each is under right now…
      for (const [id, want] of expected) {
        const got = await server.getModelCredentials(id);
        assert.deepEqual({ wsToken: got?.wsToken, cookie: got?.cookie, proxyUrl: got?.proxyUrl }, want);
      }
      // …and writes new secrets, which must go under the new key at once.
      const fresh = secrets(`during${writes++}`);
      const created = await server.createModel(org.id, modelInput(fresh));
      expected.set(created.id, { wsToken: fresh.wsToken, cookie: fresh.cookie, proxyUrl: fresh.proxyUrl });
      assert.equal(await keyIdOf(created.id), step.keyId, 'a server never writes with the retired key');
      const first = made[0]!.id;
      await server.updateModel(first, { wsToken: `tok-updated-${writes}` });
      expected.get(first)!.wsToken = `tok-updated-${writes}`;
    },
  });
  assert.notEqual(result.keyId, oldId);
  assert.deepEqual(result.failed, []);
  assert.equal(steps[0]?.step, 'key-added');
  assert.ok(steps.filter((s) => s.step === 'batch').length >= 3, 'several small transactions');
  // 5 models × 3 secrets, less the token the server rewrote (under the new key) right after
  // the key was added; models created during the rotation never needed it.
  assert.equal(result.reencrypted, 14);

  const status = await admin.status();
  assert.deepEqual(status.keys.map((k) => ({ id: k.id, current: k.current, values: k.values })), [
    { id: result.keyId, current: true, values: expected.size * 3 },
    { id: oldId, current: false, values: 0 },
  ]);

  const pruned = await admin.prune();
  assert.deepEqual(pruned.removed, [oldId]);
  assert.deepEqual(pruned.kept.map((k) => k.id), [result.keyId]);
  const file = JSON.parse(readFileSync(db.keyFile, 'utf8')) as { current: string; keys: Record<string, string> };
  assert.deepEqual(Object.keys(file.keys), [result.keyId]);
  assert.equal(file.current, result.keyId);

  // The server, and a fresh process, still read every value.
  const fresh = await db.open();
  for (const reader of [server, fresh]) {
    for (const [id, want] of expected) {
      const got = await reader.getModelCredentials(id);
      assert.deepEqual({ wsToken: got?.wsToken, cookie: got?.cookie, proxyUrl: got?.proxyUrl }, want);
    }
  }
  assertNoClearSecrets(await db.contents(), made);
});

storeTest('prune keeps a retired key while a value still uses it', async (db) => {
  const store = await db.open();
  const { made, org } = await seed(store, 2);
  const admin = await db.openSecretsAdmin();
  const oldId = admin.keyring.currentKeyId();
  const oldValue = await column(db, 'cookie', made[0]!.id);
  await admin.rotate();
  // Put one value back under the old key (as a restored backup row would be).
  await db.query('update models set cookie = ? where id = ?', [oldValue, made[0]!.id]);
  const pruned = await admin.prune();
  assert.deepEqual(pruned.removed, []);
  assert.deepEqual(pruned.kept.map((k) => [k.id, k.values]).find(([id]) => id === oldId), [oldId, 1]);
  assert.equal((await store.getModelCredentials(made[0]!.id))?.cookie, made[0]!.cookie);
  assert.ok(org);
});

storeTest('rotation leaves an undecryptable value untouched and reports it', async (db) => {
  const store = await db.open();
  const { made } = await seed(store, 2);
  await db.query('update models set cookie = (select cookie from models where id = ?) where id = ?', [made[0]!.id, made[1]!.id]);
  const broken = await column(db, 'cookie', made[1]!.id);
  const admin = await db.openSecretsAdmin();
  const result = await admin.rotate();
  assert.equal(result.reencrypted, 5);
  assert.deepEqual(result.failed.map((f) => ['modelId' in f ? f.modelId : f.endpointId, f.field]), [[made[1]!.id, 'cookie']]);
  assert.match(result.failed[0]!.error, /failed authentication/);
  assert.equal(await column(db, 'cookie', made[1]!.id), broken, 'left exactly as it was');
});
