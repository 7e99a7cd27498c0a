/**
 * `ofgw secrets status|rotate|prune` and the model lifecycle commands (`model show`,
 * `model events`, `model connect` with credentials) as real processes, including a
 * rotation while `ofgw serve` keeps relaying.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../src/store/index.js';
import { freePort, TestClient } from '../helpers.js';
import { runCli, startServe } from './cli-helpers.js';

/** The runner's own key settings must not leak into these processes. */
const NO_KEYS = { OFGW_MASTER_KEY: '', OFGW_MASTER_KEY_PREVIOUS: '', OFGW_MASTER_KEY_FILE: '' };

interface Status {
  source: string;
  current: string;
  keys: { id: string; current: boolean; known: boolean; values: number; unreadable: number }[];
  unreadable: number;
  plaintext: number;
}

describe('ofgw secrets and the model lifecycle commands', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ofgw-cli-secrets-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cli = (args: string[], env: Record<string, string> = {}, input?: string) => runCli(args, { ...NO_KEYS, ...env }, input);

  async function addModel(db: string, env: Record<string, string> = {}) {
    const org = (await cli(['org', 'create', '--name', 'Acme', '--json', '--db', db], env)).json<{ id: string }>();
    const token = `tok-${randomBytes(6).toString('hex')}`;
    const added = await cli(
      ['model', 'add', '--org', org.id, '--ws-url', 'wss://ws2.onlyfans.com/ws3/1', '--ws-token', token, '--cookie', 'sess=c00kie', '--proxy', 'http://u:pr0xypw@127.0.0.1:3128', '--json', '--db', db],
      env,
    );
    assert.equal(added.code, 0, added.stderr);
    return { orgId: org.id, modelId: added.json<{ id: string }>().id, token };
  }

  it('model show includes the events; model events lists them; model connect --ws-token clears a rejection', async () => {
    const db = join(dir, 'lifecycle', 'ofgw.db');
    const { modelId, token } = await addModel(db);

    const shown = await cli(['model', 'show', modelId, '--json', '--db', db]);
    assert.equal(shown.code, 0, shown.stderr);
    const record = shown.json<{ credentialsRejectedAt: string | null; events: { kind: string }[] }>();
    assert.equal(record.credentialsRejectedAt, null);
    assert.deepEqual(record.events.map((e) => e.kind), ['created']);

    // The gateway marks a rejected token (here through the store, as the server would).
    const store = await openStore(db, { env: {} });
    await store.markCredentialsRejected(modelId, 'OnlyFans rejected the model\'s token');
    await store.close();
    assert.equal((await cli(['model', 'disconnect', modelId, '--db', db])).code, 0);

    const human = await cli(['model', 'show', modelId, '--db', db]);
    assert.match(human.stdout, /credentialsRejectedReason\s+OnlyFans rejected the model's token/);
    assert.match(human.stdout, /events\s*\n\s+\S+Z\s+disconnected\s*\n\s+\S+Z\s+credentials_rejected\s+OnlyFans rejected/);

    const fresh = `tok-fresh-${randomBytes(4).toString('hex')}`;
    const connected = await cli(['model', 'connect', modelId, '--ws-token', '-', '--json', '--db', db], {}, `${fresh}\n`);
    assert.equal(connected.code, 0, connected.stderr);
    assert.equal(connected.json().status, 'connected');
    assert.equal(connected.json().credentialsRejectedAt, null);

    const events = await cli(['model', 'events', modelId, '--json', '--db', db]);
    assert.deepEqual(events.json<{ kind: string }[]>().map((e) => e.kind), ['connected', 'credentials_updated', 'disconnected', 'credentials_rejected', 'created']);
    assert.equal(events.json<{ reason: string }[]>()[1]?.reason, 'changed: wsToken');
    const limited = await cli(['model', 'events', modelId, '--limit', '2', '--json', '--db', db]);
    assert.equal(limited.json<unknown[]>().length, 2);
    const table = await cli(['model', 'events', modelId, '--db', db]);
    assert.match(table.stdout, /^seq\s+at\s+kind\s+reason\n/);

    const check = await openStore(db, { env: {} });
    assert.equal((await check.getModelCredentials(modelId))?.wsToken, fresh);
    await check.close();

    // A plain connect of a connected model changes nothing; --name is not a connect option.
    assert.equal((await cli(['model', 'connect', modelId, '--db', db])).code, 0);
    assert.equal((await cli(['model', 'events', modelId, '--json', '--db', db])).json<unknown[]>().length, 5);
    const badOption = await cli(['model', 'connect', modelId, '--name', 'x', '--db', db]);
    assert.equal(badOption.code, 2);
    assert.match(badOption.stderr, /Unknown option '--name'/);

    // The trail outlives the model.
    assert.equal((await cli(['model', 'remove', modelId, '--db', db])).code, 0);
    const afterRemoval = await cli(['model', 'events', modelId, '--json', '--db', db]);
    assert.equal(afterRemoval.json<{ kind: string }[]>()[0]?.kind, 'removed');
    assert.equal((await cli(['model', 'show', modelId, '--db', db])).code, 1);

    const unknown = await cli(['model', 'events', '00000000-0000-4000-8000-000000000000', '--json', '--db', db]);
    assert.equal(unknown.code, 1);
    assert.match(JSON.parse(unknown.stderr).error, /model .* not found/);
    const badLimit = await cli(['model', 'events', modelId, '--limit', '0', '--db', db]);
    assert.equal(badLimit.code, 2);
    assert.match(badLimit.stderr, /--limit must be a whole number from 1 to 1000/);

    for (const out of [shown, human, connected, events, table, afterRemoval]) {
      for (const secret of [token, fresh, 'c00kie', 'pr0xypw']) assert.ok(!(out.stdout + out.stderr).includes(secret), 'no secret in any output');
    }
  });

  it('status, rotate and prune with the key file; nothing in clear on disk', async () => {
    const db = join(dir, 'rotate', 'ofgw.db');
    const { modelId, token } = await addModel(db);
    const keyFile = join(dir, 'rotate', 'ofgw.keys');
    if (process.platform !== 'win32') assert.equal(statSync(keyFile).mode & 0o777, 0o600);

    const before = await cli(['secrets', 'status', '--json', '--db', db]);
    assert.equal(before.code, 0, before.stderr);
    const s1 = before.json<Status>();
    assert.equal(s1.source, 'file');
    assert.deepEqual(s1.keys, [{ id: s1.current, current: true, known: true, values: 3, unreadable: 0 }]);

    const rotated = await cli(['secrets', 'rotate', '--json', '--db', db]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const r = rotated.json<{ keyId: string; reencrypted: number }>();
    assert.deepEqual(Object.keys(r), ['keyId', 'reencrypted']);
    assert.notEqual(r.keyId, s1.current);
    assert.equal(r.reencrypted, 3);

    const middle = (await cli(['secrets', 'status', '--json', '--db', db])).json<Status>();
    assert.deepEqual(middle.keys.map((k) => [k.id, k.current, k.values]), [[r.keyId, true, 3], [s1.current, false, 0]]);
    const human = await cli(['secrets', 'status', '--db', db]);
    assert.match(human.stdout, new RegExp(`${r.keyId}\\s+3 values\\s+current`));

    const pruned = await cli(['secrets', 'prune', '--json', '--db', db]);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.deepEqual(pruned.json<{ removed: string[] }>().removed, [s1.current]);
    assert.deepEqual(Object.keys((JSON.parse(readFileSync(keyFile, 'utf8')) as { keys: object }).keys), [r.keyId]);
    const again = await cli(['secrets', 'prune', '--db', db]);
    assert.match(again.stdout, /removed\s+\(none\)/);

    const shown = await cli(['model', 'show', modelId, '--json', '--db', db]);
    assert.equal(shown.json().hasWsToken, true);
    const store = await openStore(db, { env: {} });
    assert.equal((await store.getModelCredentials(modelId))?.wsToken, token);
    await store.close();

    const bytes = Buffer.concat([db, `${db}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
    for (const secret of [token, 'sess=c00kie', 'pr0xypw']) assert.equal(bytes.includes(secret), false);
  });

  it('--key-file and OFGW_MASTER_KEY_FILE name another key file', async () => {
    const db = join(dir, 'keyfile', 'ofgw.db');
    const keyFile = join(dir, 'elsewhere', 'custom.keys');
    await addModel(db, { OFGW_MASTER_KEY_FILE: keyFile });
    assert.ok(existsSync(keyFile));
    assert.equal(existsSync(join(dir, 'keyfile', 'ofgw.keys')), false);
    const status = await cli(['secrets', 'status', '--key-file', keyFile, '--json', '--db', db]);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.json<Status>().keys[0]?.values, 3);
    // Without it the default file is missing while the database holds encrypted values.
    const lost = await cli(['secrets', 'status', '--json', '--db', db]);
    assert.equal(lost.code, 1);
    assert.match(JSON.parse(lost.stderr).error, /key file .*ofgw\.keys does not exist/);
  });

  it('env-key mode: rotate re-encrypts under the new OFGW_MASTER_KEY; prune explains it does not apply', async () => {
    const db = join(dir, 'env', 'ofgw.db');
    const oldKey = randomBytes(32).toString('base64');
    const newKey = randomBytes(32).toString('base64');
    const { modelId } = await addModel(db, { OFGW_MASTER_KEY: oldKey });
    assert.equal(existsSync(join(dir, 'env', 'ofgw.keys')), false);

    const env = { OFGW_MASTER_KEY: newKey, OFGW_MASTER_KEY_PREVIOUS: oldKey };
    const rotated = await cli(['secrets', 'rotate', '--json', '--db', db], env);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.equal(rotated.json().reencrypted, 3);
    assert.match(rotated.json().keyId as string, /^env-[0-9a-f]{8}$/);

    const status = (await cli(['secrets', 'status', '--json', '--db', db], env)).json<Status>();
    assert.equal(status.source, 'env');
    assert.deepEqual(status.keys.map((k) => k.values), [3, 0]);

    const prune = await cli(['secrets', 'prune', '--json', '--db', db], env);
    assert.equal(prune.code, 2);
    assert.match(JSON.parse(prune.stderr).error, /prune does not apply to keys from OFGW_MASTER_KEY: drop an old key from OFGW_MASTER_KEY_PREVIOUS/);

    const onlyNew = await cli(['model', 'show', modelId, '--json', '--db', db], { OFGW_MASTER_KEY: newKey });
    assert.equal(onlyNew.code, 0, onlyNew.stderr);
    const bad = await cli(['secrets', 'status', '--db', db], { OFGW_MASTER_KEY: 'too-short' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /OFGW_MASTER_KEY is not base64/);
    assert.ok(!bad.stderr.includes('too-short'));
  });

  it('a master key that cannot decrypt the stored secrets: serve refuses naming the key id, secrets status exits 1 (both looked healthy)', async () => {
    const db = join(dir, 'wrong-key', 'ofgw.db');
    const key = randomBytes(32).toString('base64');
    const wrongKey = randomBytes(32).toString('base64');
    await addModel(db, { OFGW_MASTER_KEY: key });
    const right = { OFGW_MASTER_KEY: key };
    const wrong = { OFGW_MASTER_KEY: wrongKey };
    const keyId = (await cli(['secrets', 'status', '--json', '--db', db], right)).json<Status>().current;

    const refused = await cli(['serve', '--port', '0', '--production', '--db', db], wrong);
    assert.equal(refused.code, 1, refused.stdout);
    assert.equal(
      refused.stderr,
      `ofgw: the store holds model secrets these keys cannot decrypt: OFGW_MASTER_KEY has no key ${keyId} (3 values). ` +
        'Start with the key that encrypted them (OFGW_MASTER_KEY, older ones in OFGW_MASTER_KEY_PREVIOUS, or OFGW_MASTER_KEY_FILE); `ofgw secrets status` lists the key ids in use\n',
    );
    assert.doesNotMatch(refused.stdout, /gateway listening/);

    const status = await cli(['secrets', 'status', '--db', db], wrong);
    assert.equal(status.code, 1);
    assert.match(status.stdout, new RegExp(`${keyId} +3 values  UNKNOWN: not in the keyring`), 'the status is printed');
    assert.match(status.stdout, /^unreadable +3$/m);
    assert.equal(status.stderr, `ofgw: secrets status: 3 stored values cannot be decrypted: 3 under key ${keyId}, which OFGW_MASTER_KEY does not hold\n`);
    const json = await cli(['secrets', 'status', '--json', '--db', db], wrong);
    assert.equal(json.code, 1);
    assert.equal(json.json<Status>().unreadable, 3);
    assert.match(JSON.parse(json.stderr).error, new RegExp(`3 under key ${keyId}`));
    for (const out of [refused, status, json]) assert.ok(!(out.stdout + out.stderr).includes(key) && !(out.stdout + out.stderr).includes(wrongKey), 'no key material');

    // With the key that encrypted them, both are fine.
    assert.equal((await cli(['secrets', 'status', '--db', db], right)).code, 0);
    const served = await startServe(['--port', '0', '--production', '--db', db], { ...NO_KEYS, ...right });
    try {
      assert.deepEqual(await (await fetch(`http://127.0.0.1:${served.port}/readyz`)).json(), { status: 'ready' });
    } finally {
      assert.equal(await served.stop(), 0);
    }
  });

  it('rotates and prunes while `ofgw serve` keeps relaying the sandbox model', async () => {
    const db = join(dir, 'serve', 'ofgw.db');
    const served = await startServe(['--port', '0', '--db', db, '--sandbox-port', String(await freePort())], NO_KEYS);
    try {
      const [, modelId, apiKey] = /npx ofgw connect (\S+) --api-key (\S+)/.exec(served.stderr()) as unknown as [string, string, string];
      const relay = async (): Promise<void> => {
        const client = new TestClient(`ws://127.0.0.1:${served.port}/api/models/${modelId}/ws`, { headers: { 'X-API-Key': apiKey } });
        await client.confirmed();
        client.socket.close();
        await client.closed;
      };
      await relay();
      const before = (await cli(['secrets', 'status', '--json', '--db', db])).json<Status>();
      const rotated = await cli(['secrets', 'rotate', '--batch-size', '1', '--json', '--db', db]);
      assert.equal(rotated.code, 0, rotated.stderr);
      assert.equal(rotated.json().reencrypted, 1, 'the sandbox token');
      await relay();
      const pruned = await cli(['secrets', 'prune', '--json', '--db', db]);
      assert.deepEqual(pruned.json<{ removed: string[] }>().removed, [before.current]);
      // The server reads the token under a key it has never seen: it re-reads the key file.
      await relay();
    } finally {
      assert.equal(await served.stop(), 0, served.stderr());
    }
  });

  it('rejects bad options clearly', async () => {
    const db = join(dir, 'opts', 'ofgw.db');
    const cases: [string[], RegExp][] = [
      [['secrets', 'rotate', '--batch-size', '0'], /--batch-size must be a whole number/],
      [['secrets', 'status', 'extra'], /unexpected argument "extra"/],
      [['secrets', 'burn'], /secrets: unknown subcommand "burn" \(known: status, rotate, prune\)/],
    ];
    for (const [args, message] of cases) {
      const r = await cli([...args, '--db', db]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    }
  });
});
