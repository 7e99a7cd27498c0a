/**
 * `ofgw org|subscription|key|model … --url` drives a running gateway through the management
 * API: same JSON shapes as the local commands, exit 1 with the API's message for refused
 * operations, exit 2 for bad usage. The built binary runs as a real process.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { NOT_FOUND_COMMANDS } from '../cli/cli-helpers.js';
import { freePort, TestClient } from '../helpers.js';
import { ADMIN_TOKEN, startAdminStack, type AdminStack } from './admin-helpers.js';

const OFGW = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json<T = Record<string, unknown>>(): T;
}

function ofgw(args: string[], env: Record<string, string | undefined> = {}, input?: string): Promise<Run> {
  const merged: NodeJS.ProcessEnv = {
    ...process.env,
    OFGW_URL: undefined,
    OFGW_ADMIN_URL: undefined,
    OFGW_GATEWAY_URL: undefined,
    OFGW_DB: undefined,
    OFGW_ADMIN_TOKEN: ADMIN_TOKEN,
    ...env,
  };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [OFGW, ...args], { env: merged, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T });
    });
    child.stdin?.end(input ?? '');
  });
}

describe('remote CLI (--url)', () => {
  let stack: AdminStack;
  let url: string;
  before(async () => {
    stack = await startAdminStack();
    url = stack.httpUrl;
  });
  after(async () => {
    await stack.close();
  });

  const remote = (args: string[], env?: Record<string, string | undefined>, input?: string): Promise<Run> => ofgw([...args, '--url', url, '--json'], env, input);

  function ok(run: Run): Run {
    assert.equal(run.code, 0, `exit ${run.code}: ${run.stderr}`);
    return run;
  }

  it('org, subscription, key and model commands, end to end', async () => {
    const org = ok(await remote(['org', 'create', '--name', 'Remote Co'])).json<{ id: string; name: string }>();
    assert.equal(org.name, 'Remote Co');
    assert.ok(ok(await remote(['org', 'list'])).json<{ id: string }[]>().some((o) => o.id === org.id));
    const sub = ok(await remote(['subscription', 'set', '--org', org.id, '--status', 'active', '--plan', 'pro'])).json();
    assert.equal(sub.status, 'active');
    assert.equal(ok(await remote(['subscription', 'show', '--org', org.id])).json().plan, 'pro');

    const key = ok(await remote(['key', 'create', '--org', org.id, '--name', 'remote'])).json<{ id: string; key: string }>();
    assert.match(key.key, /^ofgw_/);
    const keys = ok(await remote(['key', 'list', '--org', org.id])).json<Record<string, unknown>[]>();
    assert.deepEqual(keys.map((k) => k.id), [key.id]);
    assert.equal(keys[0]?.key, undefined);

    // The token from stdin, as locally.
    const model = ok(await remote(['model', 'add', '--org', org.id, '--ws-url', stack.sim.wsUrl(), '--ws-token', '-', '--name', 'R'], {}, stack.wsToken)).json<{
      id: string;
      hasWsToken: boolean;
    }>();
    assert.equal(model.hasWsToken, true);
    assert.ok(ok(await remote(['model', 'list', '--org', org.id])).json<{ id: string }[]>().some((m) => m.id === model.id));

    const client = new TestClient(`${stack.wsUrl}/api/models/${model.id}/ws`, { headers: { 'X-API-Key': key.key } });
    await client.confirmed();
    assert.equal(ok(await remote(['model', 'disconnect', model.id])).json().status, 'disconnected');
    assert.equal((await client.closed).code, 4409);
    assert.equal(ok(await remote(['model', 'connect', model.id])).json().status, 'connected');

    // Remote and local print the same shape for the same record.
    const shownRemote = ok(await remote(['model', 'show', model.id])).json<{ events: unknown[] }>();
    const shownLocal = ok(await ofgw(['model', 'show', model.id, '--db', stack.dbPath, '--json'])).json();
    assert.deepEqual(shownRemote, shownLocal);
    assert.equal(shownRemote.events.length, 3);
    const orgsLocal = ok(await ofgw(['org', 'list', '--db', stack.dbPath, '--json'])).json();
    // OFGW_ADMIN_URL works like --url (so does OFGW_URL, its older name); --db still forces the local store.
    assert.deepEqual(ok(await ofgw(['org', 'list', '--json'], { OFGW_ADMIN_URL: url })).json(), orgsLocal);
    assert.deepEqual(ok(await ofgw(['org', 'list', '--json'], { OFGW_URL: url })).json(), orgsLocal);
    assert.deepEqual(ok(await ofgw(['org', 'list', '--json', '--db', stack.dbPath], { OFGW_ADMIN_URL: 'http://127.0.0.1:9' })).json(), orgsLocal);

    const revoked = ok(await remote(['key', 'revoke', key.id])).json();
    assert.equal(typeof revoked.revokedAt, 'string');
    assert.deepEqual(ok(await remote(['model', 'remove', model.id])).json(), { id: model.id, removed: true });
    const gone = await remote(['model', 'show', model.id]);
    assert.equal(gone.code, 1);
    assert.equal(JSON.parse(gone.stderr).code, 'NOT_FOUND');
    assert.match(JSON.parse(gone.stderr).error, new RegExp(model.id));
  });

  it('model add and update --delivery, remotely: the same shapes as locally, recorded as cli-remote', async () => {
    const org = ok(await remote(['org', 'create', '--name', 'Remote Delivery'])).json<{ id: string }>();
    const model = ok(await remote(['model', 'add', '--org', org.id, '--ws-url', stack.sim.wsUrl(), '--ws-token', '-', '--delivery', 'session'], {}, stack.wsToken)).json<{ id: string; delivery: string }>();
    assert.equal(model.delivery, 'session');
    assert.equal((await stack.store.getModel(model.id))?.delivery, 'session');
    const listed = ok(await remote(['model', 'list', '--org', org.id])).json<{ id: string; delivery: string }[]>();
    assert.deepEqual(listed.map((m) => m.delivery), ['session']);
    assert.equal(ok(await remote(['model', 'update', model.id, '--delivery', 'relay'])).json().delivery, 'relay');
    const shownRemote = ok(await remote(['model', 'show', model.id])).json<{ delivery: string; events: { kind: string; reason: string }[] }>();
    assert.equal(shownRemote.delivery, 'relay');
    assert.deepEqual([shownRemote.events[0]?.kind, shownRemote.events[0]?.reason], ['delivery_changed', 'session → relay']);
    assert.deepEqual(shownRemote, ok(await ofgw(['model', 'show', model.id, '--db', stack.dbPath, '--json'])).json());
    const [entry] = ok(await remote(['audit', '--target', model.id, '--action', 'model.updated'])).json<{ actorKind: string; details: unknown }[]>();
    assert.equal(entry?.actorKind, 'cli-remote');
    assert.deepEqual(entry?.details, { fields: ['delivery'], previousDelivery: 'session', delivery: 'relay' });

    const bad = await remote(['model', 'update', model.id, '--delivery', 'both']);
    assert.equal(bad.code, 2);
    assert.deepEqual(JSON.parse(bad.stderr), { error: 'model update: --delivery must be one of relay, session (got "both")', code: 'USAGE' });
    const badAdd = await remote(['model', 'add', '--org', org.id, '--ws-url', stack.sim.wsUrl(), '--ws-token', 'x', '--delivery', '']);
    assert.equal(badAdd.code, 2);
    assert.match(JSON.parse(badAdd.stderr).error, /^model add: --delivery must be one of relay, session/);
    assert.equal((await stack.store.listModels(org.id)).length, 1, 'nothing added');
  });

  it('exit 1 with the API\'s message for refused operations', async () => {
    const bad = await remote(['org', 'create', '--name', '   ']);
    assert.equal(bad.code, 1);
    assert.equal(JSON.parse(bad.stderr).code, 'INVALID_INPUT');
    assert.match(JSON.parse(bad.stderr).error, /name/);
    const wrong = await remote(['org', 'list'], { OFGW_ADMIN_TOKEN: 'w'.repeat(40) });
    assert.equal(wrong.code, 1);
    assert.match(JSON.parse(wrong.stderr).error, /admin token/);
    assert.ok(!wrong.stderr.includes('w'.repeat(40)));
    const refused = await ofgw(['org', 'list', '--url', `http://127.0.0.1:${await freePort()}`, '--json']);
    assert.equal(refused.code, 1);
    assert.match(JSON.parse(refused.stderr).error, /cannot reach .*ECONNREFUSED/);
  });

  it('"not found" exits 1 with NOT_FOUND from every command, as locally', async () => {
    for (const args of NOT_FOUND_COMMANDS) {
      const r = await remote(args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      const error = JSON.parse(r.stderr) as { error: string; code: string };
      assert.equal(error.code, 'NOT_FOUND', args.join(' '));
      assert.match(error.error, /not found/i, args.join(' '));
    }
  });

  it('names the flags, not the API\'s fields, as the local commands do (it said expiresAt)', async () => {
    const org = ok(await remote(['org', 'create', '--name', 'Flags'])).json<{ id: string }>();
    const expired = await remote(['key', 'create', '--org', org.id, '--expires-at', '2020-01-01']);
    assert.equal(expired.code, 1);
    assert.deepEqual(JSON.parse(expired.stderr), { error: '--expires-at must be in the future', code: 'INVALID_INPUT' });
    const model = await remote(['model', 'add', '--org', org.id, '--ws-url', 'http://x', '--ws-token', 'x', '--proxy', 'gopher://h']);
    assert.equal(model.code, 1);
    assert.match(JSON.parse(model.stderr).error, /^--ws-url must be a ws:\/\/ or wss:\/\/ URL; --proxy must be/);
  });

  it('OFGW_URL meant the management API here and the gateway in the example: the gateway\'s address now has its own name', async () => {
    // Exported for the example (or ofgw connect), the gateway's address leaves the record commands local.
    const local = await ofgw(['org', 'list', '--json', '--db', stack.dbPath], { OFGW_GATEWAY_URL: stack.wsUrl });
    assert.deepEqual(ok(local).json(), ok(await ofgw(['org', 'list', '--json', '--db', stack.dbPath])).json());
    assert.deepEqual(ok(await ofgw(['org', 'list', '--json'], { OFGW_GATEWAY_URL: stack.wsUrl, OFGW_ADMIN_URL: url })).json(), local.json());
    // A ws:// address left in OFGW_URL (as the example's README said) is named, with what to do.
    const old = await ofgw(['org', 'list', '--json'], { OFGW_URL: stack.wsUrl });
    assert.equal(old.code, 2);
    assert.match(JSON.parse(old.stderr).error, /^org list: OFGW_URL holds a ws:\/\/ URL, but it names the management API .* in OFGW_GATEWAY_URL .* unset OFGW_URL to use the local store$/);
    // A wrong scheme names where it came from.
    const ftp = await ofgw(['org', 'list', '--json'], { OFGW_ADMIN_URL: 'ftp://u:secret@h' });
    assert.equal(ftp.code, 2);
    assert.equal(JSON.parse(ftp.stderr).error, 'org list: OFGW_ADMIN_URL must be the management API\'s http:// or https:// URL (got "ftp://u:***@h/")');
  });

  it('exit 2 for bad usage: no token, bad --url, --url with --db, bad status', async () => {
    const noToken = await remote(['org', 'list'], { OFGW_ADMIN_TOKEN: undefined });
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /OFGW_ADMIN_TOKEN/);
    assert.equal((await ofgw(['org', 'list', '--url', 'ftp://x', '--json'])).code, 2);
    assert.equal((await remote(['org', 'list', '--db', stack.dbPath])).code, 2);
    assert.equal((await remote(['subscription', 'set', '--org', 'x', '--status', 'paused'])).code, 2);
    assert.equal((await remote(['key', 'revoke'])).code, 2);
    const grace = await remote(['key', 'rotate', '00000000-0000-4000-8000-000000000000', '--grace', '2w']);
    assert.equal(grace.code, 2);
    assert.match(JSON.parse(grace.stderr).error, /--grace must be 0 or a duration such as 90s, 15m, 24h or 7d, at most 30d \(got "2w"\)/);
    assert.equal((await remote(['audit', '--actor', 'robot'])).code, 2);
  });

  it('org rename and delete, key rotate --grace and audit, remotely, recorded as cli-remote with the OS user', async () => {
    const org = ok(await remote(['org', 'create', '--name', 'Remote Ops'])).json<{ id: string }>();
    assert.equal(ok(await remote(['org', 'rename', org.id, '--name', 'Remote Operations'])).json().name, 'Remote Operations');
    await remote(['subscription', 'set', '--org', org.id, '--status', 'active']);
    const key = ok(await remote(['key', 'create', '--org', org.id, '--name', 'ops'])).json<{ id: string; key: string }>();
    const model = ok(await remote(['model', 'add', '--org', org.id, '--ws-url', stack.sim.wsUrl(), '--ws-token', '-'], {}, stack.wsToken)).json<{ id: string }>();
    const client = new TestClient(`${stack.wsUrl}/api/models/${model.id}/ws`, { headers: { 'X-API-Key': key.key } });
    await client.confirmed();

    const rotated = ok(await remote(['key', 'rotate', key.id, '--grace', '1h'])).json<{ id: string; key: string; replaces: string; graceEndsAt: string }>();
    assert.equal(rotated.replaces, key.id);
    assert.ok(Math.abs(Date.parse(rotated.graceEndsAt) - Date.now() - 3600_000) < 10_000);
    const listed = ok(await remote(['key', 'list', '--org', org.id])).json<{ id: string; expiresAt: string | null; replacedBy: string | null }[]>();
    assert.deepEqual(listed.find((k) => k.id === key.id), { ...listed.find((k) => k.id === key.id), expiresAt: rotated.graceEndsAt, replacedBy: rotated.id });

    const deleted = ok(await remote(['org', 'delete', org.id])).json();
    assert.deepEqual(deleted, { id: org.id, name: 'Remote Operations', deleted: true, keys: 2, models: 1, subscription: 'active' });
    assert.equal((await client.closed).code, 4401);

    const trail = ok(await remote(['audit', '--org', org.id])).json<{ action: string; actorKind: string; actorDetail: string }[]>();
    assert.deepEqual(trail.map((e) => e.action), ['organization.deleted', 'key.rotated', 'model.created', 'key.created', 'subscription.changed', 'organization.renamed', 'organization.created']);
    assert.ok(trail.every((e) => e.actorKind === 'cli-remote'));
    assert.match(trail[0]?.actorDetail ?? '', new RegExp(`^\\S+@${hostname().replace(/[.]/g, '\\.')} \\(cli/\\d+\\.\\d+\\.\\d+\\) from 127\\.0\\.0\\.1$`));
    assert.equal(ok(await remote(['audit', '--org', org.id, '--action', 'key', '--limit', '1'])).json<unknown[]>().length, 1);
    // Remote and local print the same trail.
    assert.deepEqual(ok(await ofgw(['audit', '--org', org.id, '--db', stack.dbPath, '--json'])).json(), trail);
    const human = ok(await ofgw(['audit', '--org', org.id, '--url', url]));
    assert.match(human.stdout.split('\n')[0] ?? '', /^seq\s+at\s+actorKind\s+actorDetail\s+action\s+orgName\s+targetName$/);
    assert.match(human.stdout, /organization\.deleted\s+Remote Operations\s+Remote Operations/);
  });
});
