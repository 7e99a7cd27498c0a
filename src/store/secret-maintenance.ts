/**
 * Whole-database work on the models' encrypted columns: encrypting plaintext left by older
 * versions, counting values per key, re-encrypting under a new key (rotation) and dropping
 * keys nothing uses (prune). Dialect-neutral, like the store.
 *
 * Rotation never stops a running server: the new key goes into the key file first (servers
 * re-read it before each encryption), then values are re-encrypted a batch per transaction,
 * each re-encryption decrypting with whichever key the value names. Key-file changes run
 * inside a database transaction holding the key-change lock, which serializes them with each
 * other and with every write of a secret (sealed inside its own transaction under the
 * secret-write lock, see model-writes.ts and locks.ts); rows read to be rewritten are locked.
 */
import type { Kysely } from 'kysely';
import { generateKey, isSealed, newKeyId, SecretsError, type Keyring, type KeySource } from '../secrets/index.js';
import {
  MALFORMED,
  maskedProxy,
  openField,
  PLAINTEXT,
  SECRET_COLUMNS,
  SECRET_FIELDS,
  sealField,
  secretAad,
  storedKeyId,
  type SecretField,
} from './model-secrets.js';
import { WEBHOOK_SECRET_COLUMNS, webhookSecretAad, type WebhookSecretField } from './webhooks.js';

const WEBHOOK_SECRET_FIELDS = Object.keys(WEBHOOK_SECRET_COLUMNS) as WebhookSecretField[];
import type { WriteLocks } from './locks.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;
type SecretRow = { id: string; org_id: string; ws_token: string | null; cookie: string | null; proxy_url: string | null };

const SEALED_PREFIX = 'ofgw1:';
const DEFAULT_BATCH = 100;
/** The first pass does the work; the next ones only confirm nothing was left behind. */
const MAX_PASSES = 3;

/** Rows with a secret in clear (or a pattern too new to read). SQL shared by both engines. */
function plaintextRows(db: Db) {
  return db
    .selectFrom('models')
    .select(['id', 'org_id', 'ws_token', 'cookie', 'proxy_url'])
    .where((eb) =>
      eb.or(
        Object.values(SECRET_COLUMNS).map((column) =>
          eb.and([eb(column, 'is not', null), eb(eb.fn<string>('substr', [eb.ref(column), eb.val(1), eb.val(SEALED_PREFIX.length)]), '<>', SEALED_PREFIX)]),
        ),
      ),
    );
}

/** Whether any value is already encrypted (so a missing key file must not be replaced). */
export async function hasEncryptedSecrets(db: Db): Promise<boolean> {
  // Webhook secrets are encrypted from the start: any endpoint has one.
  if ((await db.selectFrom('webhook_endpoints').select('id').limit(1).executeTakeFirst()) !== undefined) return true;
  const row = await db
    .selectFrom('models')
    .select('id')
    .where((eb) =>
      eb.or(Object.values(SECRET_COLUMNS).map((column) => eb(eb.fn<string>('substr', [eb.ref(column), eb.val(1), eb.val(SEALED_PREFIX.length)]), '=', SEALED_PREFIX))),
    )
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Encrypts secrets stored in clear by versions before encryption at rest, and writes the
 * masked proxy copy listings show. Runs on every open; finds nothing after the first.
 * @returns how many values it encrypted.
 */
export async function encryptPlaintextSecrets(db: Db, keyring: Keyring, locks: WriteLocks): Promise<number> {
  if ((await plaintextRows(db).limit(1).executeTakeFirst()) === undefined) return 0;
  return db.transaction().execute(async (trx) => {
    await locks.secretWrite(trx);
    let count = 0;
    for (const row of await locks.row(plaintextRows(trx)).execute()) {
      const ref = { orgId: row.org_id, modelId: row.id };
      const set: Partial<Record<'ws_token' | 'cookie' | 'proxy_url' | 'proxy_url_masked', string>> = {};
      for (const field of SECRET_FIELDS) {
        const value = row[SECRET_COLUMNS[field]];
        if (value === null || isSealed(value)) continue;
        set[SECRET_COLUMNS[field]] = sealField(keyring, ref, field, value);
        if (field === 'proxyUrl') set.proxy_url_masked = maskedProxy(value);
        count++;
      }
      await trx.updateTable('models').set(set).where('id', '=', row.id).execute();
    }
    return count;
  });
}

/** One stored secret and what it is bound to (a model's field, a webhook endpoint's secret). */
interface StoredValue {
  aad: string;
  stored: string;
}

/** Every stored secret by the key id it names ({@link PLAINTEXT} and {@link MALFORMED} included, should any exist). */
async function valuesByKey(db: Db): Promise<Map<string, StoredValue[]>> {
  const byKey = new Map<string, StoredValue[]>();
  const add = (stored: string | null, aad: string): void => {
    const id = storedKeyId(stored);
    if (id === undefined || stored === null) return;
    const values = byKey.get(id) ?? [];
    values.push({ aad, stored });
    byKey.set(id, values);
  };
  const rows = await db.selectFrom('models').select(['id', 'org_id', 'ws_token', 'cookie', 'proxy_url']).execute();
  for (const row of rows) {
    for (const field of SECRET_FIELDS) add(row[SECRET_COLUMNS[field]], secretAad(row.org_id, row.id, field));
  }
  const endpoints = await db.selectFrom('webhook_endpoints').select(['id', 'org_id', 'secret', 'previous_secret']).execute();
  for (const row of endpoints) {
    for (const field of WEBHOOK_SECRET_FIELDS) add(row[WEBHOOK_SECRET_COLUMNS[field]], webhookSecretAad(row.org_id, row.id, field));
  }
  return byKey;
}

/** Values per key id ({@link PLAINTEXT} and {@link MALFORMED} included, should any exist). */
async function countByKey(db: Db): Promise<Map<string, number>> {
  return new Map([...(await valuesByKey(db))].map(([id, values]) => [id, values.length]));
}

/** Whether the keyring opens a stored value (a value under a key id it lacks does not). */
function opens(keyring: Keyring, value: StoredValue): boolean {
  try {
    keyring.decrypt(value.stored, value.aad);
    return true;
  } catch (error) {
    if (error instanceof SecretsError) return false;
    throw error;
  }
}

/** Values the keyring cannot open, per key id it holds; every value of a key id it lacks. */
function unreadableByKey(keyring: Keyring, byKey: Map<string, StoredValue[]>): Map<string, number> {
  const unreadable = new Map<string, number>();
  for (const [id, values] of byKey) {
    if (id === PLAINTEXT) continue;
    const failed = id === MALFORMED || !keyring.hasKey(id) ? values.length : values.filter((v) => !opens(keyring, v)).length;
    if (failed > 0) unreadable.set(id, failed);
  }
  return unreadable;
}

/** Values tried per key id at start-up: enough to tell a wrong key from one damaged value. */
const START_SAMPLES_PER_KEY = 3;

/**
 * Refuses a keyring that cannot decrypt what the store holds: every key id in use must be
 * held, and must open at least one of (up to three of) its values — a wrong key under a
 * matching id (a replaced key file, a mistyped `id:key` in OFGW_MASTER_KEY_PREVIOUS) is
 * caught too. Run before anything is written, so a wrong key never encrypts new values.
 * @throws {SecretsError} `KEYRING_MISMATCH`, naming each key id and where the keys came from,
 *   never key material.
 */
export async function verifyKeyring(db: Db, keyring: Keyring): Promise<void> {
  keyring.currentKeyId(); // picks up a key file changed since it was loaded
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const [id, values] of await valuesByKey(db)) {
    if (id === PLAINTEXT || id === MALFORMED) continue;
    const count = `${values.length} value${values.length === 1 ? '' : 's'}`;
    if (!keyring.hasKey(id)) missing.push(`${id} (${count})`);
    else if (!values.slice(0, START_SAMPLES_PER_KEY).some((v) => opens(keyring, v))) wrong.push(`${id} (${count})`);
  }
  if (missing.length === 0 && wrong.length === 0) return;
  const problems = [
    ...(missing.length > 0 ? [`${keyring.location} has no key ${missing.join(', ')}`] : []),
    ...(wrong.length > 0 ? [`the key ${wrong.join(', ')} in ${keyring.location} is not the one that encrypted them`] : []),
  ];
  throw new SecretsError(
    'KEYRING_MISMATCH',
    `the store holds model secrets these keys cannot decrypt: ${problems.join('; ')}. Start with the key that encrypted them ` +
      `(OFGW_MASTER_KEY, older ones in OFGW_MASTER_KEY_PREVIOUS, or OFGW_MASTER_KEY_FILE); \`ofgw secrets status\` lists the key ids in use`,
  );
}

export interface KeyUsage {
  id: string;
  current: boolean;
  /** False for a key id the database uses but the keyring does not hold. */
  known: boolean;
  /** Stored values encrypted with this key. */
  values: number;
  /** Of those, values the keyring cannot decrypt (all of them for an unknown key). */
  unreadable: number;
}

export interface SecretsStatus {
  source: KeySource;
  /** The key file, or the environment variable. */
  location: string;
  current: string;
  keys: KeyUsage[];
  /** Values in clear or unreadable envelopes; 0 unless the database was edited by hand. */
  plaintext: number;
  malformed: number;
  /** Stored values that cannot be decrypted: those of every key's `unreadable`, and the malformed ones. */
  unreadable: number;
}

/** Key ids, which is current, how many values each encrypts, and how many of them do not decrypt (every value is tried). */
export async function secretsStatus(db: Db, keyring: Keyring): Promise<SecretsStatus> {
  const current = keyring.currentKeyId();
  const byKey = await valuesByKey(db);
  const failed = unreadableByKey(keyring, byKey);
  const count = (id: string): number => byKey.get(id)?.length ?? 0;
  const held = keyring.keyIds();
  const usage = (id: string, known: boolean): KeyUsage => ({ id, current: id === current, known, values: count(id), unreadable: failed.get(id) ?? 0 });
  const keys: KeyUsage[] = held.map((id) => usage(id, true));
  for (const id of byKey.keys()) if (id !== PLAINTEXT && id !== MALFORMED && !held.includes(id)) keys.push(usage(id, false));
  const unreadable = [...failed.values()].reduce((a, b) => a + b, 0);
  return { source: keyring.source, location: keyring.location, current, keys, plaintext: count(PLAINTEXT), malformed: count(MALFORMED), unreadable };
}

export interface RotationStep {
  step: 'key-added' | 'batch';
  keyId: string;
  reencrypted: number;
}

export interface RotateOptions {
  /** Models per transaction (default 100): short transactions keep server writes flowing. */
  batchSize?: number;
  /** Called after the key is added and after each committed batch (progress, tests). */
  onStep?: (step: RotationStep) => void | Promise<void>;
}

/** A value rotation could not decrypt: a model's field, or a webhook endpoint's secret. */
export type RotationFailure =
  | { modelId: string; field: SecretField; error: string }
  | { endpointId: string; field: WebhookSecretField; error: string };

export interface RotationResult {
  keyId: string;
  reencrypted: number;
  /** Values that could not be decrypted; left exactly as they were. */
  failed: RotationFailure[];
}

/**
 * Adds a new current key (file and memory keyrings; an env keyring keeps its current key,
 * which the operator has just changed) and re-encrypts every value under the current key.
 */
export async function rotateSecrets(db: Db, keyring: Keyring, locks: WriteLocks, options: RotateOptions = {}): Promise<RotationResult> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a whole number of at least 1');
  const keyId = keyring.mutable
    ? await db.transaction().execute(async (trx) => {
        await locks.keyChange(trx);
        return keyring.addKey(newKeyId(), generateKey());
      })
    : keyring.currentKeyId();
  await options.onStep?.({ step: 'key-added', keyId, reencrypted: 0 });
  const failed = new Map<string, RotationFailure>();
  let reencrypted = 0;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    let inPass = 0;
    // Re-encrypts one table's secrets, a batch of rows per transaction under the write lock.
    const reencryptAll = async <Row extends { id: string }>(
      read: (trx: Db, after: string) => Promise<Row[]>,
      reencrypt: (trx: Db, row: Row, current: string) => Promise<number>,
    ): Promise<void> => {
      let cursor = '';
      for (;;) {
        const batch = await db.transaction().execute(async (trx) => {
          await locks.secretWrite(trx);
          const rows = await read(trx, cursor);
          // Read inside the transaction: a key added by a concurrent rotation is used at once.
          const current = keyring.currentKeyId();
          let count = 0;
          for (const row of rows) count += await reencrypt(trx, row, current);
          return { count, last: rows[rows.length - 1]?.id };
        });
        if (batch.last === undefined) return;
        cursor = batch.last;
        inPass += batch.count;
        reencrypted += batch.count;
        await options.onStep?.({ step: 'batch', keyId, reencrypted });
      }
    };
    await reencryptAll(
      (trx, after) => locks.row(trx.selectFrom('models').select(['id', 'org_id', 'ws_token', 'cookie', 'proxy_url']).where('id', '>', after).orderBy('id').limit(batchSize)).execute(),
      (trx, row, current) => reencryptRow(trx, keyring, row, current, failed),
    );
    // Webhook signing secrets, the same way.
    await reencryptAll(
      (trx, after) => locks.row(trx.selectFrom('webhook_endpoints').select(['id', 'org_id', 'secret', 'previous_secret']).where('id', '>', after).orderBy('id').limit(batchSize)).execute(),
      (trx, row, current) => reencryptEndpoint(trx, keyring, row, current, failed),
    );
    if (inPass === 0) break;
  }
  return { keyId, reencrypted, failed: [...failed.values()] };
}

async function reencryptRow(trx: Db, keyring: Keyring, row: SecretRow, current: string, failed: Map<string, RotationFailure>): Promise<number> {
  const ref = { orgId: row.org_id, modelId: row.id };
  const set: Partial<Record<'ws_token' | 'cookie' | 'proxy_url', string>> = {};
  for (const field of SECRET_FIELDS) {
    const column = SECRET_COLUMNS[field];
    const stored = row[column];
    const keyId = storedKeyId(stored);
    if (stored === null || keyId === current) continue;
    try {
      const plain = keyId === PLAINTEXT ? stored : (openField(keyring, ref, field, stored) as string);
      set[column] = sealField(keyring, ref, field, plain);
      failed.delete(`${row.id}:${field}`);
    } catch (error) {
      if (!(error instanceof SecretsError)) throw error;
      failed.set(`${row.id}:${field}`, { modelId: row.id, field, error: error.message });
    }
  }
  const count = Object.keys(set).length;
  // Same plaintext, new envelope: not a change of the model, so no change row or event.
  if (count > 0) await trx.updateTable('models').set(set).where('id', '=', row.id).execute();
  return count;
}

type EndpointSecretRow = { id: string; org_id: string; secret: string; previous_secret: string | null };

async function reencryptEndpoint(trx: Db, keyring: Keyring, row: EndpointSecretRow, current: string, failed: Map<string, RotationFailure>): Promise<number> {
  const set: Partial<Record<'secret' | 'previous_secret', string>> = {};
  for (const field of WEBHOOK_SECRET_FIELDS) {
    const column = WEBHOOK_SECRET_COLUMNS[field];
    const stored = row[column];
    if (stored === null || storedKeyId(stored) === current) continue;
    const aad = webhookSecretAad(row.org_id, row.id, field);
    try {
      set[column] = keyring.encrypt(keyring.decrypt(stored, aad), aad);
      failed.delete(`${row.id}:${field}`);
    } catch (error) {
      if (!(error instanceof SecretsError)) throw error;
      failed.set(`${row.id}:${field}`, { endpointId: row.id, field, error: `cannot decrypt the ${field} of webhook endpoint ${row.id}: ${error.message}` });
    }
  }
  const count = Object.keys(set).length;
  if (count > 0) await trx.updateTable('webhook_endpoints').set(set).where('id', '=', row.id).execute();
  return count;
}

export interface PruneResult {
  removed: string[];
  kept: KeyUsage[];
}

/**
 * Removes keys that are neither current nor used by any stored value. Counting and removing
 * happen inside one transaction holding the key-change lock, so no value can start using a
 * key in between.
 * @throws {SecretsError} `NOT_APPLICABLE` for env keys (the operator edits the variable).
 */
export async function pruneKeys(db: Db, keyring: Keyring, locks: WriteLocks): Promise<PruneResult> {
  if (!keyring.mutable) {
    throw new SecretsError(
      'NOT_APPLICABLE',
      'prune does not apply to keys from OFGW_MASTER_KEY: drop an old key from OFGW_MASTER_KEY_PREVIOUS once `ofgw secrets status` shows it encrypts 0 values',
    );
  }
  const removed = await db.transaction().execute(async (trx) => {
    await locks.keyChange(trx);
    const counts = await countByKey(trx);
    const current = keyring.currentKeyId();
    return keyring.removeKeys(keyring.keyIds().filter((id) => id !== current && !counts.has(id)));
  });
  const status = await secretsStatus(db, keyring);
  return { removed, kept: status.keys.filter((k) => k.known) };
}
