/**
 * `ofgw serve --db postgres://…` as a real process, on a schema of its own: it seeds the
 * sandbox, relays a client, and sees what `ofgw … --db` (the same schema) writes from another
 * process — including a revocation that closes a live relay through the change feed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { freePort, TestClient } from '../helpers.js';
import { POSTGRES_URL } from '../services.js';
import { postgresSkip, postgresUrlFor, tempDatabase } from '../store/temp-store.js';
import { runCli, startServe } from './cli-helpers.js';

/** Trust auth ignores it; it is here to be kept out of every output. */
const PASSWORD = 'pg-S3cret-pw';

test('ofgw serve on PostgreSQL seeds the sandbox, relays, and sees CLI changes made on the same schema', { skip: postgresSkip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  const base = new URL(POSTGRES_URL);
  base.password = PASSWORD;
  const url = postgresUrlFor(db.schema!, base.toString());
  const env = { OFGW_MASTER_KEY: randomBytes(32).toString('base64'), OFGW_MASTER_KEY_FILE: '', OFGW_MASTER_KEY_PREVIOUS: '' };
  const cli = async (args: string[]) => {
    const result = await runCli([...args, '--json', '--db', url], env);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    return result.json();
  };
  const sandboxPort = String(await freePort());
  const serveArgs = ['--port', '0', '--db', url, '--sandbox-port', sandboxPort];
  const outputs: string[] = [];

  const served = await startServe(serveArgs, env);
  t.after(() => served.stop());
  const banner = /npx ofgw connect (\S+) --api-key (\S+) --url (\S+)/.exec(served.stderr());
  assert.ok(banner, `the sandbox banner:\n${served.stderr()}`);
  const [, modelId, apiKey, gatewayUrl] = banner as unknown as [string, string, string, string];
  const relayUrl = `ws://127.0.0.1:${served.port}/api/models/${modelId}/ws`;
  try {
    const listening = JSON.parse(served.stdout().split('\n').find((l) => l.includes('"gateway listening"'))!) as { db: string };
    assert.equal(listening.db, url.replace(PASSWORD, '***'), 'the log shows where, not the password');

    // A client relays through it, as the banner says.
    const counted = await runCli(['connect', modelId, '--api-key', apiKey, '--url', gatewayUrl, '--count', '2']);
    assert.equal(counted.code, 0, counted.stderr);
    const frames = counted.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(frames[0], { connected: true, modelId });
    assert.equal(frames.length, 3, 'the confirmation and two events');

    // The CLI on the same schema: what it writes, the server sees.
    const orgs = (await cli(['org', 'list'])) as unknown as { id: string; sandbox: boolean }[];
    assert.deepEqual(orgs.map((o) => o.sandbox), [true]);
    const sandboxOrg = orgs[0]!.id;
    const acme = (await cli(['org', 'create', '--name', 'Acme'])) as { id: string };
    await cli(['subscription', 'set', '--org', acme.id, '--status', 'active']);
    const acmeKey = (await cli(['key', 'create', '--org', acme.id, '--name', 'acme'])) as { key: string };
    const foreign = new TestClient(relayUrl, { headers: { 'X-API-Key': acmeKey.key } });
    assert.equal((await foreign.next()).json().code, 'MODEL_NOT_FOUND', 'the key was found: the model is another organization\'s');
    await foreign.closed;

    const second = (await cli(['key', 'create', '--org', sandboxOrg, '--name', 'second'])) as { id: string; key: string };
    const client = new TestClient(relayUrl, { headers: { 'X-API-Key': second.key } });
    await client.confirmed();
    await cli(['key', 'revoke', second.id]);
    let frame: Record<string, unknown> | undefined;
    while (!frame?.code) frame = (await client.next(3000)).json();
    assert.equal(frame.code, 'INVALID_API_KEY');
    assert.equal((await client.closed).code, 4401);

    const [{ count }] = (await db.query<{ count: string }>('select count(*) from organizations')) as [{ count: string }];
    assert.equal(count, '2', 'the rows are in the schema the URL names');
    outputs.push(served.stdout(), served.stderr(), counted.stdout, counted.stderr);
  } finally {
    assert.equal(await served.stop(), 0, served.stderr());
  }

  // A restart finds the store seeded: no second banner, and the sandbox still relays.
  const again = await startServe(serveArgs, env);
  try {
    assert.ok(!again.stderr().includes('API key'), 'no second banner');
    const client = new TestClient(relayUrl.replace(String(served.port), String(again.port)), { headers: { 'X-API-Key': apiKey } });
    await client.confirmed();
    client.socket.close();
    await client.closed;
    outputs.push(again.stdout(), again.stderr());
  } finally {
    assert.equal(await again.stop(), 0, again.stderr());
  }

  // Without a master key it does not start, and says why.
  const keyless = await runCli(['serve', '--port', '0', ...serveArgs.slice(2)], { OFGW_MASTER_KEY: '', OFGW_MASTER_KEY_FILE: '', OFGW_MASTER_KEY_PREVIOUS: '' });
  assert.equal(keyless.code, 2, keyless.stderr);
  assert.match(keyless.stderr, /a PostgreSQL store \(127\.0\.0\.1:5432\/test\) needs OFGW_MASTER_KEY .* or OFGW_MASTER_KEY_FILE/);
  outputs.push(keyless.stdout, keyless.stderr);

  // With a master key that did not encrypt the stored secrets it does not start either: it
  // would answer /readyz and close every relay with 1011.
  const otherKey = randomBytes(32).toString('base64');
  const wrongKey = await runCli(['serve', ...serveArgs], { ...env, OFGW_MASTER_KEY: otherKey });
  assert.equal(wrongKey.code, 1, wrongKey.stderr);
  assert.match(wrongKey.stderr, /^ofgw: the store holds model secrets these keys cannot decrypt: OFGW_MASTER_KEY has no key env-[0-9a-f]{8} \(1 value\)\. /);
  assert.ok(!wrongKey.stderr.includes(otherKey) && !wrongKey.stderr.includes(env.OFGW_MASTER_KEY), 'no key material');
  outputs.push(wrongKey.stdout, wrongKey.stderr);

  for (const output of outputs) assert.equal(output.includes(PASSWORD), false, 'no output holds the database password');
});
