/**
 * `ofgw serve` as a real process: first-run sandbox seeding (and none in production mode),
 * a restart that keeps the sandbox working, starts on taken ports that seed nothing and say
 * which port, a half-made sandbox completed, a CLI revocation reaching the running server,
 * and SIGTERM draining relays with 1012.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SANDBOX_ORG_NAME } from '../../src/cli/first-run.js';
import { startSimulator } from '../../src/sandbox/index.js';
import { openStore } from '../../src/store/index.js';
import { freePort, TestClient, waitFor } from '../helpers.js';
import { bannerCommand, runCli, spawnCli, startServe, type CliResult } from './cli-helpers.js';

/** The runner's own key settings must not reach these processes. */
const NO_KEYS = { OFGW_MASTER_KEY: '', OFGW_MASTER_KEY_PREVIOUS: '', OFGW_MASTER_KEY_FILE: '' };

/** `ofgw serve ARGS` while another program (a bare TCP listener on loopback) holds `port`. */
async function serveWhileHeld(port: number, args: string[]): Promise<CliResult> {
  const holder = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    holder.once('error', reject);
    holder.listen(port, '127.0.0.1', resolve);
  });
  try {
    return await runCli(['serve', ...args], NO_KEYS);
  } finally {
    await new Promise((resolve) => holder.close(resolve));
  }
}

/** `ofgw serve ARGS` seeds: its banner's key relays the sandbox model. */
async function seedsAndRelays(args: string[]): Promise<void> {
  const served = await startServe(args, NO_KEYS);
  try {
    const { modelId, apiKey } = bannerCommand(served.stderr());
    await relayConfirms(served.port, modelId, apiKey);
  } finally {
    assert.equal(await served.stop(), 0);
  }
}

/** The `gateway listening` log line. */
function listeningLine(stdout: string): Record<string, unknown> {
  const line = stdout.split('\n').find((l) => l.includes('"gateway listening"'));
  assert.ok(line, stdout);
  return JSON.parse(line) as Record<string, unknown>;
}

/** Opens the sandbox model's relay through `port` with `apiKey` and waits for the confirmation. */
async function relayConfirms(port: number, modelId: string, apiKey: string): Promise<void> {
  const client = new TestClient(`ws://127.0.0.1:${port}/api/models/${modelId}/ws`, { headers: { 'X-API-Key': apiKey } });
  await client.confirmed();
  client.socket.close();
  await client.closed;
}

describe('ofgw serve', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ofgw-serve-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('seeds a sandbox on first start, prints the key once, and events flow', async () => {
    const db = join(dir, 'first', 'ofgw.db');
    const sandboxPort = String(await freePort());
    const served = await startServe(['--port', '0', '--db', db, '--sandbox-port', sandboxPort]);
    let modelId: string;
    let apiKey: string;
    try {
      const banner = served.stderr();
      const m = /npx ofgw connect (\S+) --api-key (\S+) --url (\S+)/.exec(banner);
      assert.ok(m, `banner with a copy-paste command:\n${banner}`);
      [, modelId, apiKey] = m as unknown as [string, string, string];
      assert.match(banner, /simulated OnlyFans/);
      assert.ok(!served.stdout().includes(apiKey), 'the key is not in the logs');
      // The dashboard is off without an operator token: the banner and the log say how to turn it on.
      assert.match(banner, /dashboard {5}off: set OFGW_ADMIN_TOKEN \(at least 32 characters, e\.g\. `openssl rand -hex 32`\) and restart/);
      assert.equal(
        listeningLine(served.stdout()).dashboard,
        `off: set OFGW_ADMIN_TOKEN (at least 32 characters, e.g. \`openssl rand -hex 32\`) and restart, then open http://127.0.0.1:${served.port}/dashboard`,
      );

      // The printed command works as printed (it runs until interrupted).
      const printed = (/npx ofgw connect (.*)$/m.exec(banner)?.[1] ?? '').split(' ');
      const watching = spawnCli(['connect', ...printed]);
      await waitFor(() => watching.stdout().split('\n').length > 2, 10_000, 'the confirmation and an event');
      watching.child.kill('SIGINT');
      assert.equal(await watching.exited, 0, watching.stderr());
      const lines = watching.stdout().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(lines[0], { connected: true, modelId });
      assert.equal(typeof lines[1]?.chat_messages, 'number', 'the simulator sends its counters frame');
      // --count stops after that many frames.
      const counted = await runCli(['connect', modelId, '--api-key', apiKey, '--url', `ws://127.0.0.1:${served.port}`, '--count', '2']);
      assert.equal(counted.code, 0, counted.stderr);
      assert.equal(counted.stdout.trim().split('\n').length, 3, 'the confirmation and two events');
    } finally {
      assert.equal(await served.stop(), 0);
    }

    // Second start: nothing new is seeded and the sandbox model still connects.
    const again = await startServe(['--port', '0', '--db', db, '--sandbox-port', sandboxPort]);
    try {
      assert.ok(!again.stderr().includes('API key'), 'no second banner');
      const orgs = (await runCli(['org', 'list', '--json', '--db', db])).json<unknown[]>();
      assert.equal(orgs.length, 1);
      const client = new TestClient(`ws://127.0.0.1:${again.port}/api/models/${modelId}/ws`, { headers: { 'X-API-Key': apiKey } });
      await client.confirmed();
      client.socket.close();
      await client.closed;
    } finally {
      assert.equal(await again.stop(), 0);
    }
  });

  it('a taken --port stops the start naming --port, with nothing seeded; the next start seeds and shows the key', async () => {
    const db = join(dir, 'busy-port', 'ofgw.db');
    const port = await freePort();
    const sandboxPort = String(await freePort());
    const refused = await serveWhileHeld(port, ['--port', String(port), '--db', db, '--sandbox-port', sandboxPort]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.equal(
      refused.stderr,
      `ofgw: cannot listen on 127.0.0.1:${port} for the gateway: the port is already in use. Stop what holds it or choose another port with --port or OFGW_PORT (0 picks a free one).\n`,
    );
    assert.deepEqual((await runCli(['org', 'list', '--json', '--db', db], NO_KEYS)).json(), [], 'nothing seeded');

    await seedsAndRelays(['--port', String(port), '--db', db, '--sandbox-port', sandboxPort]);
  });

  it('a taken sandbox port is named as --sandbox-port (not the --port given) and leaves no half-made organization', async () => {
    const db = join(dir, 'busy-sandbox', 'ofgw.db');
    const sandboxPort = await freePort();
    const refused = await serveWhileHeld(sandboxPort, ['--port', '0', '--db', db, '--sandbox-port', String(sandboxPort)]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.equal(
      refused.stderr,
      `ofgw: cannot listen on 127.0.0.1:${sandboxPort} for the sandbox simulator: the port is already in use. ` +
        'Stop what holds it, choose another port with --sandbox-port or OFGW_SANDBOX_PORT (0 picks a free one) or start with --production to run without the sandbox.\n',
    );
    assert.deepEqual((await runCli(['org', 'list', '--json', '--db', db], NO_KEYS)).json(), [], 'no organization without its subscription, key and model');

    await seedsAndRelays(['--port', '0', '--db', db, '--sandbox-port', String(sandboxPort)]);
  });

  it('completes a sandbox an interrupted start left half made, with a fresh key in the banner, and follows a new --sandbox-port', async () => {
    const db = join(dir, 'half-made', 'ofgw.db');
    // What a start that stopped after creating the organization left behind.
    const store = await openStore(db, { env: {} });
    const org = await store.createOrganization({ name: SANDBOX_ORG_NAME, sandbox: true });
    await store.close();

    const served = await startServe(['--port', '0', '--db', db, '--sandbox-port', String(await freePort())], NO_KEYS);
    let modelId: string;
    let apiKey: string;
    try {
      ({ modelId, apiKey } = bannerCommand(served.stderr()));
      assert.match(served.stderr(), new RegExp(`organization  ${org.id}`), 'the same organization, completed');
      await relayConfirms(served.port, modelId, apiKey);
    } finally {
      assert.equal(await served.stop(), 0);
    }
    const subscription = (await runCli(['subscription', 'show', '--org', org.id, '--json', '--db', db], NO_KEYS)).json();
    assert.equal(subscription.status, 'active');

    // The simulator moves to another port (the old one was taken, say): the model follows it.
    const again = await startServe(['--port', '0', '--db', db, '--sandbox-port', String(await freePort())], NO_KEYS);
    try {
      assert.ok(!again.stderr().includes('API key'), 'no second key');
      assert.match(again.stderr(), new RegExp(`model ${modelId}\\. Its key was shown once.*npx ofgw key create --org ${org.id} --db ${db}`));
      await relayConfirms(again.port, modelId, apiKey);
    } finally {
      assert.equal(await again.stop(), 0);
    }
  });

  it('a restart refuses a sandbox port held by a simulator of another sandbox (ofgw sandbox), which would reject the token', async () => {
    const db = join(dir, 'foreign-simulator', 'ofgw.db');
    const sandboxPort = await freePort();
    await seedsAndRelays(['--port', '0', '--db', db, '--sandbox-port', String(sandboxPort)]);
    const foreign = await startSimulator({ port: sandboxPort });
    try {
      const refused = await runCli(['serve', '--port', '0', '--db', db, '--sandbox-port', String(sandboxPort)], NO_KEYS);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, new RegExp(`^ofgw: cannot listen on 127\\.0\\.0\\.1:${sandboxPort} for the sandbox simulator: the port is already in use\\. .*--sandbox-port`));
    } finally {
      await foreign.close();
    }
  });

  it('seeds nothing in production mode', async () => {
    const db = join(dir, 'prod.db');
    const served = await startServe(['--port', '0', '--db', db, '--production']);
    try {
      assert.ok(!served.stderr().includes('API key'));
      assert.deepEqual((await runCli(['org', 'list', '--json', '--db', db])).json(), []);
      // The operations endpoints are wired in the real process.
      const base = `http://127.0.0.1:${served.port}`;
      assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { status: 'ok' });
      assert.deepEqual(await (await fetch(`${base}/readyz`)).json(), { status: 'ready' });
      const index = (await (await fetch(`${base}/`)).json()) as { dashboard: unknown; enable: string };
      assert.deepEqual(index.dashboard, { path: '/dashboard', enabled: false }, '`/` is an index, not a 404');
      assert.match(index.enable, /OFGW_ADMIN_TOKEN/);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /^# TYPE ofgw_relays_active gauge$/m);
      assert.match(metrics, /^ofgw_event_loop_lag_seconds\{stat="p99"\} /m);
      assert.doesNotMatch(metrics, /ofgw_cluster_coordination_up/, 'no Redis, no coordination series');
    } finally {
      assert.equal(await served.stop(), 0);
    }
  });

  it('serves the management and customer APIs when an operator token is set', async () => {
    const db = join(dir, 'admin.db');
    const token = 'operator-token-'.padEnd(40, 'x');
    const served = await startServe(['--port', '0', '--db', db, '--production'], { OFGW_ADMIN_TOKEN: token });
    try {
      const base = `http://127.0.0.1:${served.port}`;
      const admin = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
        const res = await fetch(`${base}/admin/v1${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
        return (await res.json()) as Record<string, unknown>;
      };
      assert.equal((await fetch(`${base}/admin/v1/organizations`)).status, 401);
      const org = await admin('POST', '/organizations', { name: 'Via API' });
      await admin('PUT', `/organizations/${org.id}/subscription`, { status: 'active', plan: 'pro' });
      const key = await admin('POST', `/organizations/${org.id}/keys`, { name: 'e2e' });
      const model = await admin('POST', `/organizations/${org.id}/models`, { wsUrl: 'ws://127.0.0.1:9/ws3/1', wsToken: 'e30.e30.e30', name: 'M' });
      const listed = await fetch(`${base}/api/models`, { headers: { 'x-api-key': key.key as string } });
      assert.deepEqual(await listed.json(), [{ id: model.id, name: 'M', status: 'connected' }]);
      const openapi = await admin('GET', '/openapi.json');
      assert.equal(openapi.openapi, '3.1.0');
      // The dashboard is announced and `/` leads a browser to it.
      assert.equal(listeningLine(served.stdout()).dashboard, `${base}/dashboard`);
      const root = await fetch(`${base}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
      assert.equal(root.status, 302);
      assert.equal(root.headers.get('location'), '/dashboard');
      assert.ok(!served.stdout().includes(token), 'the operator token is not logged');
    } finally {
      assert.equal(await served.stop(), 0);
    }
  });

  it('stops with a message naming an invalid setting', async () => {
    const r = await runCli(['serve', '--port', '99999', '--db', join(dir, 'x.db')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--port must be at most 65535 \(got "99999"\)/);
    const e = await runCli(['serve', '--db', join(dir, 'x.db')], { OFGW_HEARTBEAT_INTERVAL_MS: 'soon' });
    assert.equal(e.code, 2);
    assert.match(e.stderr, /OFGW_HEARTBEAT_INTERVAL_MS must be a number \(got "soon"\)/);
  });

  it('applies a CLI revocation to a live relay, and drains with 1012 on SIGTERM', async () => {
    const db = join(dir, 'live.db');
    const sandboxPort = String(await freePort());
    const served = await startServe(['--port', '0', '--db', db, '--sandbox-port', sandboxPort]);
    const m = /npx ofgw connect (\S+) --api-key (\S+)/.exec(served.stderr()) as unknown as [string, string, string];
    const [, modelId, apiKey] = m;
    const url = `ws://127.0.0.1:${served.port}/api/models/${modelId}/ws`;
    const orgId = (await runCli(['org', 'list', '--json', '--db', db])).json<{ id: string }[]>()[0]!.id;
    const second = (await runCli(['key', 'create', '--org', orgId, '--json', '--db', db])).json<{ id: string; key: string }>();

    const revokedClient = new TestClient(url, { headers: { 'X-API-Key': second.key } });
    await revokedClient.confirmed();
    const drainedClient = new TestClient(url, { headers: { 'X-API-Key': apiKey } });
    await drainedClient.confirmed();

    assert.equal((await runCli(['key', 'revoke', second.id, '--db', db])).code, 0);
    let frame: Record<string, unknown> | undefined;
    while (!frame?.code) frame = (await revokedClient.next(2000)).json();
    assert.equal(frame.code, 'INVALID_API_KEY');
    assert.equal((await revokedClient.closed).code, 4401);

    const exit = await served.stop('SIGTERM');
    assert.equal((await drainedClient.closed).code, 1012);
    assert.equal(exit, 0);
    assert.match(served.stdout(), /"msg":"stopped"/);
  });
});
