/**
 * `ofgw org|subscription|key|model`: the interface scripts rely on (issue item 7), with
 * `--json` output, non-zero exits and messages that name what was wrong.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NOT_FOUND_COMMANDS, runCli, UNKNOWN_ID } from './cli-helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('ofgw record commands', () => {
  let dir: string;
  let db: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ofgw-cli-'));
    db = join(dir, 'nested', 'ofgw.db');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the whole flow with --json, --db and OFGW_DB', async () => {
    const org = await runCli(['org', 'create', '--name', 'Acme', '--json', '--db', db]);
    assert.equal(org.code, 0, org.stderr);
    const { id: orgId, name } = org.json<{ id: string; name: string }>();
    assert.match(orgId, UUID);
    assert.equal(name, 'Acme');

    // The environment variable names the same store.
    const list = await runCli(['org', 'list', '--json'], { OFGW_DB: db });
    assert.deepEqual(list.json<{ id: string }[]>().map((o) => o.id), [orgId]);

    const sub = await runCli(['subscription', 'set', '--org', orgId, '--status', 'active', '--plan', 'pro', '--json', '--db', db]);
    assert.equal(sub.code, 0, sub.stderr);
    assert.equal(sub.json().status, 'active');
    assert.equal(sub.json().plan, 'pro');

    const key = await runCli(['key', 'create', '--org', orgId, '--name', 'ci', '--json', '--db', db]);
    assert.equal(key.code, 0, key.stderr);
    const created = key.json<{ id: string; key: string; prefix: string }>();
    assert.match(created.key, /^ofgw_sk_[0-9A-Za-z]{38}$/);
    assert.ok(created.key.startsWith(created.prefix));

    const keys = await runCli(['key', 'list', '--org', orgId, '--json', '--db', db]);
    assert.equal(keys.json<unknown[]>().length, 1);
    assert.ok(!keys.stdout.includes(created.key), 'the key is shown only once');

    const model = await runCli([
      'model', 'add', '--org', orgId, '--ws-url', 'wss://ws2.onlyfans.com/ws3/24', '--ws-token', 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln',
      '--user-agent', 'UA/1', '--cookie', 'sess=abc', '--proxy', 'http://user:pw@127.0.0.1:3128', '--name', 'Model A', '--json', '--db', db,
    ]);
    assert.equal(model.code, 0, model.stderr);
    const m = model.json<Record<string, unknown>>();
    assert.match(m.id as string, UUID);
    assert.equal(m.status, 'connected');
    assert.equal(m.proxyUrl, 'http://user:***@127.0.0.1:3128');
    for (const secret of ['eyJhbGciOiJIUzI1NiJ9.e30.c2ln', 'sess=abc', ':pw@']) assert.ok(!model.stdout.includes(secret), `no ${secret} in output`);

    const id = m.id as string;
    assert.equal((await runCli(['model', 'disconnect', id, '--json', '--db', db])).json().status, 'disconnected');
    assert.equal((await runCli(['model', 'connect', id, '--json', '--db', db])).json().status, 'connected');
    const updated = await runCli(['model', 'update', id, '--name', 'Renamed', '--ws-token', '-', '--json', '--db', db], {}, 'eyJ0eXAi.bmV3.dG9r\n');
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal(updated.json().name, 'Renamed');
    const shown = await runCli(['model', 'show', id, '--json', '--db', db]);
    assert.equal(shown.json().name, 'Renamed');
    assert.equal(shown.json().hasWsToken, true);
    assert.equal((await runCli(['model', 'list', '--org', orgId, '--json', '--db', db])).json<unknown[]>().length, 1);

    const revoked = await runCli(['key', 'revoke', created.id, '--json', '--db', db]);
    assert.equal(revoked.code, 0);
    assert.ok(revoked.json().revokedAt);

    assert.equal((await runCli(['model', 'remove', id, '--json', '--db', db])).json().removed, true);
    assert.equal((await runCli(['model', 'list', '--json', '--db', db])).json<unknown[]>().length, 0);

    // Human output works too.
    const human = await runCli(['org', 'list', '--db', db]);
    assert.match(human.stdout, /Acme/);
  });

  it('model add and update --delivery relay|session; list and show show it; the switch is in the lifecycle and audit trails', async () => {
    const run = async (...args: string[]) => {
      const r = await runCli([...args, '--json', '--db', db]);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.json<Record<string, unknown>>();
    };
    const org = await run('org', 'create', '--name', 'Delivery Co');
    const orgId = org.id as string;
    const creds = ['--ws-url', 'wss://ws2.onlyfans.com/ws3/24', '--ws-token', 'tok-delivery'];
    const plain = await run('model', 'add', '--org', orgId, ...creds, '--name', 'Plain');
    assert.equal(plain.delivery, 'relay');
    const shared = await run('model', 'add', '--org', orgId, ...creds, '--name', 'Shared', '--delivery', 'session');
    assert.equal(shared.delivery, 'session');
    const id = shared.id as string;

    const listed = (await runCli(['model', 'list', '--org', orgId, '--json', '--db', db])).json<{ name: string; delivery: string }[]>();
    assert.deepEqual(listed.map((m) => [m.name, m.delivery]), [['Plain', 'relay'], ['Shared', 'session']]);
    const table = (await runCli(['model', 'list', '--org', orgId, '--db', db])).stdout.split('\n');
    assert.match(table[0] ?? '', /^id\s+orgId\s+name\s+status\s+delivery\s+wsUrl/);
    assert.match(table.find((line) => line.includes('Shared')) ?? '', /Shared\s+connected\s+session\s+wss:/);

    const relay = await run('model', 'update', id, '--delivery', 'relay');
    assert.equal(relay.delivery, 'relay');
    const shown = await run('model', 'show', id);
    assert.equal(shown.delivery, 'relay');
    assert.deepEqual((shown.events as { kind: string; reason: string | null }[]).map((e) => [e.kind, e.reason]), [['delivery_changed', 'session → relay'], ['created', null]]);
    const human = await runCli(['model', 'show', id, '--db', db]);
    assert.match(human.stdout, /delivery\s+relay/);
    assert.match(human.stdout, /delivery_changed\s+session → relay/);

    const [entry] = (await runCli(['audit', '--target', id, '--action', 'model.updated', '--json', '--db', db])).json<{ actorKind: string; details: unknown }[]>();
    assert.equal(entry?.actorKind, 'cli');
    assert.deepEqual(entry?.details, { fields: ['delivery'], previousDelivery: 'session', delivery: 'relay' });
  });

  it('a bad --delivery names the flag and the values, exits 2 and writes nothing', async () => {
    const org = (await runCli(['org', 'create', '--name', 'Bad Delivery', '--json', '--db', db])).json<{ id: string }>();
    const creds = ['--ws-url', 'wss://ws2.onlyfans.com/ws3/24', '--ws-token', 'tok-delivery'];
    const model = (await runCli(['model', 'add', '--org', org.id, ...creds, '--json', '--db', db])).json<{ id: string; updatedAt: string }>();
    for (const [command, args] of [
      ['model add', ['model', 'add', '--org', org.id, ...creds, '--delivery', 'webhook']],
      ['model update', ['model', 'update', model.id, '--delivery', 'Session']],
    ] as const) {
      const r = await runCli([...args, '--json', '--db', db]);
      assert.equal(r.code, 2, r.stderr);
      const value = args[args.length - 1];
      assert.deepEqual(JSON.parse(r.stderr), { error: `${command}: --delivery must be one of relay, session (got "${value}")`, code: 'USAGE' });
    }
    const models = (await runCli(['model', 'list', '--org', org.id, '--json', '--db', db])).json<{ delivery: string; updatedAt: string }[]>();
    assert.deepEqual(models.map((m) => [m.delivery, m.updatedAt]), [['relay', model.updatedAt]]);
    const empty = await runCli(['model', 'update', model.id, '--db', db]);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /nothing to change \(give .* --name or --delivery\)/);
  });

  it('org rename and delete, key rotate --grace and audit on the local store, recorded as the cli actor (user@host)', async () => {
    const run = async (...args: string[]) => {
      const r = await runCli([...args, '--json', '--db', db]);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.json<Record<string, unknown>>();
    };
    const org = await run('org', 'create', '--name', 'Local Ops');
    const orgId = org.id as string;
    assert.equal((await run('org', 'rename', orgId, '--name', 'Local Operations')).name, 'Local Operations');
    const key = await run('key', 'create', '--org', orgId, '--name', 'ops');
    const rotated = await run('key', 'rotate', key.id as string, '--grace', '90m');
    assert.equal(rotated.replaces, key.id);
    assert.ok(Math.abs(Date.parse(rotated.graceEndsAt as string) - Date.now() - 90 * 60_000) < 10_000);
    const now = await run('key', 'rotate', rotated.id as string);
    assert.equal(now.graceEndsAt, (await runCli(['key', 'list', '--org', orgId, '--json', '--db', db])).json<{ id: string; revokedAt: string }[]>().find((k) => k.id === rotated.id)?.revokedAt, 'no grace: revoked now');
    assert.deepEqual(await run('org', 'delete', orgId), { id: orgId, name: 'Local Operations', deleted: true, keys: 3, models: 0, subscription: 'none' });

    const trail = (await runCli(['audit', '--org', orgId, '--json', '--db', db])).json<{ action: string; actorKind: string; actorDetail: string; targetName: string }[]>();
    assert.deepEqual(trail.map((e) => e.action), ['organization.deleted', 'key.rotated', 'key.rotated', 'key.created', 'organization.renamed', 'organization.created']);
    assert.ok(trail.every((e) => e.actorKind === 'cli' && e.actorDetail === `${userInfo().username}@${hostname()}`), JSON.stringify(trail[0]));
    assert.equal(trail[0]?.targetName, 'Local Operations');
    const keyOnly = (await runCli(['audit', '--org', orgId, '--action', 'key.rotated', '--limit', '1', '--json', '--db', db])).json<unknown[]>();
    assert.equal(keyOnly.length, 1);
    const human = await runCli(['audit', '--target', key.id as string, '--db', db]);
    assert.match(human.stdout, /key\.rotated\s+Local Operations\s+ops \(ofgw_sk_/);
  });

  const bad: [string, string[], number, RegExp][] = [
    ['a bad --grace', ['key', 'rotate', '00000000-0000-4000-8000-000000000000', '--grace', '24'], 2, /--grace must be 0 or a duration such as 90s, 15m, 24h or 7d, at most 30d \(got "24"\)/],
    ['a --grace over 30 days', ['key', 'rotate', '00000000-0000-4000-8000-000000000000', '--grace', '31d'], 2, /--grace must be .* at most 30d \(got "31d"\)/],
    ['org rename without --name', ['org', 'rename', '00000000-0000-4000-8000-000000000000'], 2, /org rename: missing required option --name/],
    ['a bad audit --action', ['audit', '--action', 'key.burned'], 2, /audit: --action must be one of organization, subscription, key, model, relay or an action/],
    ['a bad audit --since', ['audit', '--since', 'last week'], 2, /audit: --since must be an ISO 8601 date/],
    ['a malformed audit --org', ['audit', '--org', 'acme'], 2, /audit: --org must be an id \(a UUID\)/],
    ['a bad audit --before', ['audit', '--before', '0'], 2, /audit: --before must be a whole number from 1/],
    ['a missing required option', ['org', 'create'], 2, /missing required option --name/],
    ['an unknown option', ['org', 'create', '--name', 'x', '--colour', 'red'], 2, /Unknown option '--colour'/],
    ['an unknown command', ['frobnicate'], 2, /unknown command "frobnicate"/],
    ['an unknown subcommand', ['key', 'burn'], 2, /unknown subcommand "burn"/],
    ['a bad status', ['subscription', 'set', '--org', '00000000-0000-4000-8000-000000000000', '--status', 'paused'], 2, /--status must be one of active, canceled/],
    ['an unknown organization', ['key', 'create', '--org', '00000000-0000-4000-8000-000000000000'], 1, /organization .* not found/],
    ['a bad ws-url', ['model', 'add', '--org', '00000000-0000-4000-8000-000000000000', '--ws-url', 'http://x', '--ws-token', 't'], 1, /--ws-url|not found/],
    ['a missing model id', ['model', 'show'], 2, /missing MODEL_ID/],
    ['an unknown model', ['model', 'show', '00000000-0000-4000-8000-000000000000'], 1, /model 00000000-0000-4000-8000-000000000000 not found/],
    ['an empty update', ['model', 'update', '00000000-0000-4000-8000-000000000000'], 2, /nothing to change/],
  ];
  for (const [what, args, code, message] of bad) {
    it(`fails clearly on ${what}`, async () => {
      const r = await runCli([...args, '--db', db]);
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, message);
      const j = await runCli([...args, '--db', db, '--json']);
      const err = JSON.parse(j.stderr) as { error: string; code: string };
      assert.match(err.error, message);
      assert.equal(typeof err.code, 'string');
    });
  }

  it('"not found" exits 1 with NOT_FOUND from every command (model show and subscription show exited 2 with USAGE)', async () => {
    assert.equal((await runCli(['org', 'create', '--name', 'Present', '--db', db])).code, 0);
    for (const args of NOT_FOUND_COMMANDS) {
      const r = await runCli([...args, '--json', '--db', db]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      const error = JSON.parse(r.stderr) as { error: string; code: string };
      assert.equal(error.code, 'NOT_FOUND', args.join(' '));
      assert.match(error.error, /(organization|API key|model) (\S+ )?not found/, args.join(' '));
      assert.ok(!error.error.includes('not-a-uuid'), 'a malformed id is not echoed');
    }
  });

  it('a mistyped --db: every command but org create says no store is there and creates nothing (org list answered "(none)" and made folders)', async () => {
    const typo = join(dir, 'typo', 'ofgw.dbb');
    const commands = [['org', 'list'], ['secrets', 'status'], ['secrets', 'rotate'], ['secrets', 'prune'], ['model', 'list'], ...NOT_FOUND_COMMANDS];
    for (const args of commands) {
      const r = await runCli([...args, '--json', '--db', typo]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.deepEqual(JSON.parse(r.stderr), { error: `no store at ${typo} (from --db; start one with ofgw serve, or pass --db)`, code: 'NOT_FOUND' }, args.join(' '));
    }
    assert.equal(existsSync(join(dir, 'typo')), false, 'no folder, file or key file was created');
    // The message says where the location came from.
    const fromEnv = await runCli(['key', 'list', '--org', UNKNOWN_ID], { OFGW_DB: typo });
    assert.equal(fromEnv.code, 1);
    assert.equal(fromEnv.stderr, `ofgw: no store at ${typo} (from OFGW_DB; start one with ofgw serve, or pass --db)\n`);
    // org create makes the first store, as serve does.
    assert.equal((await runCli(['org', 'create', '--name', 'First', '--db', typo])).code, 0);
    assert.match((await runCli(['org', 'list', '--db', typo])).stdout, /First/);
  });

  it('key create refuses --expires-at in the past (a key could be created already expired)', async () => {
    const org = (await runCli(['org', 'create', '--name', 'Expiry', '--json', '--db', db])).json<{ id: string }>();
    const r = await runCli(['key', 'create', '--org', org.id, '--expires-at', '2020-01-01', '--json', '--db', db]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(JSON.parse(r.stderr), { error: '--expires-at must be in the future', code: 'INVALID_INPUT' });
    assert.deepEqual((await runCli(['key', 'list', '--org', org.id, '--json', '--db', db])).json(), [], 'no key was created');
  });

  it('names the flag, not the store field, and never echoes a secret on invalid input (it said wsUrl and proxyUrl)', async () => {
    const org = (await runCli(['org', 'create', '--name', 'Val', '--json', '--db', db])).json<{ id: string }>();
    const r = await runCli(['model', 'add', '--org', org.id, '--ws-url', 'ftp://nope', '--ws-token', 'SECRET-TOKEN-1', '--json', '--db', db]);
    assert.equal(r.code, 1);
    assert.deepEqual(JSON.parse(r.stderr), { error: '--ws-url must be a ws:// or wss:// URL', code: 'INVALID_INPUT' });
    const p = await runCli(['model', 'add', '--org', org.id, '--ws-url', 'wss://x/ws3/1', '--ws-token', 'SECRET-TOKEN-2', '--proxy', 'gopher://u:SECRETPW@h', '--json', '--db', db]);
    assert.equal(p.code, 1);
    assert.match(JSON.parse(p.stderr).error, /^--proxy must be an http:\/\/, https:\/\/, socks5:\/\/ or socks5h:\/\/ URL with a host$/);
    const several = await runCli(['model', 'add', '--org', org.id, '--ws-url', 'wss://x/ws3/1', '--ws-token', 'has space', '--user-agent', 'é', '--name', ' ', '--db', db]);
    assert.equal(several.stderr, 'ofgw: --name must be 1–200 characters; --ws-token must not contain whitespace or control characters; --user-agent must contain only printable ASCII characters\n');
    for (const s of ['SECRET-TOKEN-1', 'SECRET-TOKEN-2', 'SECRETPW']) assert.ok(!(r.stderr + p.stderr).includes(s));
  });
});
