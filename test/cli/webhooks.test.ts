/**
 * `ofgw webhook …` (issue 15 point 1), as a real process, in both modes against one running
 * gateway: locally on its SQLite file (`--db`; the gateway's worker then sends what the CLI
 * queued) and remotely through its management API (`--admin-url`). Same flow, same shapes, the
 * same exit codes; a real receiver on 127.0.0.1 checks every delivery's signature.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WebhookAttempt, WebhookDelivery, WebhookEndpoint } from '../../src/store/webhook-types.js';
import { waitFor } from '../helpers.js';
import { ADMIN_TOKEN, startAdminStack, type AdminStack } from '../admin/admin-helpers.js';
import { startReceiver, verified, type Receiver } from '../webhooks/receiver.js';
import { runCli, UNKNOWN_ID, type CliResult } from './cli-helpers.js';

type Endpoint = WebhookEndpoint & { secret?: string };
type Delivery = WebhookDelivery & { attemptLog?: WebhookAttempt[] };

/** Neither mode may pick up the developer's own settings. */
const CLEAN_ENV = { OFGW_ADMIN_URL: undefined, OFGW_URL: undefined, OFGW_DB: undefined, DATABASE_URL: undefined, OFGW_CONFIG: undefined, OFGW_WEBHOOK_ALLOW_PRIVATE_TARGETS: undefined };

function ok(run: CliResult): CliResult {
  assert.equal(run.code, 0, `exit ${run.code}: ${run.stderr}`);
  return run;
}

describe('ofgw webhook commands', () => {
  let stack: AdminStack;
  let receiver: Receiver;
  let orgId: string;
  before(async () => {
    receiver = await startReceiver();
    stack = await startAdminStack({ config: { webhookAllowPrivateTargets: true, webhookSecretOverlapMs: 60_000 } });
    orgId = (await stack.admin('POST', '/organizations', { name: 'Hooks CLI' })).json<{ id: string }>().id;
  });
  after(async () => {
    await stack.close();
    await receiver.close();
  });

  const modes = {
    local: (args: string[], env: Record<string, string | undefined> = {}) =>
      runCli(['webhook', ...args, '--db', stack.dbPath], { ...CLEAN_ENV, OFGW_WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', OFGW_WEBHOOK_SECRET_OVERLAP_MS: '60000', ...env }),
    remote: (args: string[], env: Record<string, string | undefined> = {}) => runCli(['webhook', ...args, '--admin-url', stack.httpUrl], { ...CLEAN_ENV, OFGW_ADMIN_TOKEN: ADMIN_TOKEN, ...env }),
  };

  for (const [mode, ofgw] of Object.entries(modes)) {
    it(`${mode}: add, list, show, update, test, deliveries, delivery, redeliver, rotate-secret, remove`, async () => {
      const added = ok(await ofgw(['add', '--org', orgId, '--url', receiver.url, '--events', 'onlyfans.*, model.connected', '--json']));
      const endpoint = added.json<Endpoint>();
      assert.match(endpoint.secret ?? '', /^whsec_/);
      assert.deepEqual(endpoint.events, ['onlyfans.*', 'model.connected']);
      const secret = endpoint.secret ?? '';

      const listed = ok(await ofgw(['list', '--org', orgId, '--json']));
      assert.ok(listed.json<Endpoint[]>().some((e) => e.id === endpoint.id));
      assert.ok(!listed.stdout.includes(secret), 'the secret is shown once');
      assert.ok(ok(await ofgw(['list', '--json'])).json<Endpoint[]>().some((e) => e.id === endpoint.id), 'list without --org: every endpoint');
      const human = ok(await ofgw(['list', '--org', orgId]));
      assert.match(human.stdout.split('\n')[0] ?? '', /^id\s+orgId\s+url\s+enabled\s+events\s+models\s+disabledReason$/);
      const shown = ok(await ofgw(['show', endpoint.id, '--json'])).json<Endpoint>();
      assert.equal(shown.url, receiver.url);
      assert.ok(!('secret' in shown));

      const off = ok(await ofgw(['update', endpoint.id, '--events', '', '--enabled', 'false', '--json'])).json<Endpoint>();
      assert.deepEqual([off.events, off.enabled, off.disabledReason], [null, false, 'disabled by an operator']);
      const on = ok(await ofgw(['update', endpoint.id, '--enabled', 'true', '--json'])).json<Endpoint>();
      assert.deepEqual([on.enabled, on.disabledReason], [true, null]);

      const test = ok(await ofgw(['test', endpoint.id, '--json'])).json<Delivery>();
      assert.deepEqual([test.type, test.status], ['webhook.test', 'pending']);
      const received = () => receiver.requests.filter((r) => r.headers['webhook-id'] === test.id);
      await waitFor(() => received().length === 1, 10_000, 'the test delivery');
      assert.equal((verified(secret, received()[0]!) as { type: string }).type, 'webhook.test');
      for (let i = 0; i < 500 && (await stack.store.webhooks.getDelivery(test.id))?.status !== 'delivered'; i++) await new Promise((r) => setTimeout(r, 10));
      const log = ok(await ofgw(['deliveries', endpoint.id, '--status', 'delivered', '--json'])).json<Delivery[]>();
      assert.deepEqual(log.map((d) => d.id), [test.id]);
      assert.deepEqual(ok(await ofgw(['deliveries', endpoint.id, '--status', 'failed', '--json'])).json(), []);
      const one = ok(await ofgw(['delivery', test.id, '--json'])).json<Delivery>();
      assert.deepEqual(one.attemptLog?.map((a) => a.statusCode), [200]);
      const oneHuman = ok(await ofgw(['delivery', test.id]));
      assert.match(oneHuman.stdout, /attemptLog\s+\n\s+\S+Z\s+200\s+\d+ ms/);

      assert.equal(ok(await ofgw(['redeliver', test.id, '--json'])).json<Delivery>().status, 'pending');
      await waitFor(() => received().length === 2, 10_000, 'the redelivery, with the same webhook-id');

      const rotated = ok(await ofgw(['rotate-secret', endpoint.id, '--json'])).json<Endpoint>();
      assert.match(rotated.secret ?? '', /^whsec_/);
      assert.notEqual(rotated.secret, secret);
      assert.ok(Date.parse(rotated.previousSecretUntil ?? '') > Date.now() + 50_000, 'the old secret overlaps for webhookSecretOverlapMs');

      assert.deepEqual(ok(await ofgw(['remove', endpoint.id, '--json'])).json(), { id: endpoint.id, removed: true });
      const gone = await ofgw(['show', endpoint.id, '--json']);
      assert.equal(gone.code, 1);
      assert.equal(JSON.parse(gone.stderr).code, 'NOT_FOUND');
    });

    it(`${mode}: refusals name the flag; unknown ids exit 1 with NOT_FOUND; bad usage exits 2`, async () => {
      const badEvents = await ofgw(['add', '--org', orgId, '--url', receiver.url, '--events', 'onlyfans.*,Bad Type!']);
      assert.equal(badEvents.code, 1, badEvents.stderr);
      assert.match(badEvents.stderr, /--events entry 2 must list event types/);
      const badModels = await ofgw(['add', '--org', orgId, '--url', receiver.url, '--models', 'nope']);
      assert.equal(badModels.code, 1);
      assert.match(badModels.stderr, /--models entry 1 must list model ids/);
      const badUrl = await ofgw(['add', '--org', orgId, '--url', 'ftp://x']);
      assert.equal(badUrl.code, 1);
      assert.match(badUrl.stderr, /^ofgw: --url must be an https:\/\//);
      const notFound = [
        ['add', '--org', UNKNOWN_ID, '--url', receiver.url],
        ['list', '--org', UNKNOWN_ID],
        ['show', UNKNOWN_ID],
        ['show', 'not-a-uuid'],
        ['update', UNKNOWN_ID, '--enabled', 'true'],
        ['remove', UNKNOWN_ID],
        ['rotate-secret', UNKNOWN_ID],
        ['test', UNKNOWN_ID],
        ['deliveries', UNKNOWN_ID],
        ['delivery', 'msg_unknown'],
        ['redeliver', 'msg_unknown'],
      ];
      // In parallel: each is its own process, and none changes anything.
      const runs = await Promise.all(notFound.map((args) => ofgw([...args, '--json'])));
      runs.forEach((run, i) => {
        const args = notFound[i]?.join(' ');
        assert.equal(run.code, 1, `${args}: ${run.stderr}`);
        assert.equal(JSON.parse(run.stderr).code, 'NOT_FOUND', args);
      });
      const usage = [
        [['add', '--org', orgId], /missing required option --url/],
        [['add', '--url', receiver.url], /missing required option --org/],
        [['update', UNKNOWN_ID], /nothing to change \(give --url, --events, --models or --enabled\)/],
        [['update', UNKNOWN_ID, '--enabled', 'yes'], /--enabled must be true or false \(got "yes"\)/],
        [['deliveries', UNKNOWN_ID, '--status', 'lost'], /--status must be one of pending, delivered, failed/],
        [['deliveries', UNKNOWN_ID, '--limit', '0'], /--limit must be a whole number/],
        [['show'], /missing WEBHOOK_ID/],
        [['redeliver'], /missing DELIVERY_ID/],
      ] as const;
      const usageRuns = await Promise.all(usage.map(([args]) => ofgw([...args])));
      usageRuns.forEach((run, i) => {
        const [args, message] = usage[i]!;
        assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
        assert.match(run.stderr, message);
      });
    });
  }

  it('local: the target policy comes from the settings (webhookAllowPrivateTargets off by default)', async () => {
    const strict = await modes.local(['add', '--org', orgId, '--url', receiver.url], { OFGW_WEBHOOK_ALLOW_PRIVATE_TARGETS: undefined });
    assert.equal(strict.code, 1, strict.stderr);
    assert.match(strict.stderr, /--url must be https:\/\/ \(plain http is allowed only with the webhookAllowPrivateTargets setting\)/);
    const loopback = await modes.local(['add', '--org', orgId, '--url', 'https://127.0.0.1/in'], { OFGW_WEBHOOK_ALLOW_PRIVATE_TARGETS: undefined });
    assert.equal(loopback.code, 1);
    assert.match(loopback.stderr, /--url must not point at 127\.0\.0\.1 is a loopback/);
    const badSetting = await modes.local(['list'], { OFGW_WEBHOOK_ALLOW_PRIVATE_TARGETS: 'maybe' });
    assert.equal(badSetting.code, 0, 'list needs no setting');
    const bad = await modes.local(['add', '--org', orgId, '--url', receiver.url], { OFGW_WEBHOOK_ALLOW_PRIVATE_TARGETS: 'maybe' });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /OFGW_WEBHOOK_ALLOW_PRIVATE_TARGETS/);
  });

  it('remote: --admin-url with --db is bad usage; no token is bad usage', async () => {
    const both = await runCli(['webhook', 'list', '--admin-url', stack.httpUrl, '--db', stack.dbPath], { ...CLEAN_ENV, OFGW_ADMIN_TOKEN: ADMIN_TOKEN });
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give --admin-url or --db, not both/);
    const noToken = await runCli(['webhook', 'list', '--admin-url', stack.httpUrl], { ...CLEAN_ENV, OFGW_ADMIN_TOKEN: '' });
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /OFGW_ADMIN_TOKEN/);
    const badUrl = await runCli(['webhook', 'list', '--admin-url', 'ftp://x'], { ...CLEAN_ENV, OFGW_ADMIN_TOKEN: ADMIN_TOKEN });
    assert.equal(badUrl.code, 2);
    assert.match(badUrl.stderr, /--admin-url must be the management API's http:\/\//);
    // OFGW_ADMIN_URL alone selects remote mode too.
    const viaEnv = await runCli(['webhook', 'list', '--json'], { ...CLEAN_ENV, OFGW_ADMIN_URL: stack.httpUrl, OFGW_ADMIN_TOKEN: ADMIN_TOKEN });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
  });
});
