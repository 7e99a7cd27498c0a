/**
 * The webhook intake of a session: while the organization has no enabled endpoint it neither
 * reads the log nor writes the store per event (the session's hot path), and once an endpoint
 * appears, the events from its creation on are enqueued within about a second even if the
 * model sends nothing more.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../src/log.js';
import { MemoryEventLog } from '../../src/sessions/event-log-memory.js';
import { openStore } from '../../src/store/index.js';
import { ENDPOINTS_RECHECK_MS } from '../../src/webhooks/intake.js';
import { WebhookService } from '../../src/webhooks/service.js';
import { loadConfig } from '../../src/config.js';

const RETENTION = { maxEvents: 1000, maxAgeMs: 3_600_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('no enabled endpoint: no log read, no store write per event; a new endpoint gets the events from its creation on', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ofgw-intake-'));
  const store = await openStore(join(dir, 'ofgw.db'));
  try {
    const org = await store.createOrganization({ name: 'Intake' });
    const model = await store.createModel(org.id, { name: 'M', wsUrl: 'ws://127.0.0.1:9/ws3/1', wsToken: 'tok', delivery: 'session' });
    const log = new MemoryEventLog();
    let reads = 0;
    const read = log.read.bind(log);
    log.read = (...args) => {
      reads++;
      return read(...args);
    };
    let asked = 0;
    const has = store.webhooks.hasEnabledEndpoints.bind(store.webhooks);
    store.webhooks.hasEnabledEndpoints = (orgId) => {
      asked++;
      return has(orgId);
    };
    const service = new WebhookService({ store: store.webhooks, nodeId: 'n1', config: loadConfig({ db: ':memory:' }), logger: createLogger('silent') });
    const stop = service.follow(model.id, org.id, log);
    const fence = { modelId: model.id, token: 1 };
    const event = (n: number) => ({ kind: 'event' as const, data: Buffer.from(JSON.stringify({ api2_chat_message: { id: n, text: `m${n}` } })), binary: false });
    for (let i = 0; i < 50; i++) {
      await log.append(fence, [event(i)], RETENTION);
      await sleep(2);
    }
    await sleep(50);
    assert.equal(reads, 0, 'the log was not read');
    assert.ok(asked <= 2, `the store was asked about endpoints ${asked} times for 50 events (once per ${ENDPOINTS_RECHECK_MS} ms)`);
    assert.equal(await store.webhooks.intakeCursor(model.id), undefined, 'no cursor written');

    // An endpoint appears, then one more event, then silence.
    const endpoint = await store.webhooks.createEndpoint(org.id, { url: 'https://hooks.example.com/of' });
    await sleep(5);
    const [after] = await log.append(fence, [event(1000)], RETENTION);
    const deadline = Date.now() + 5000;
    let deliveries = await store.webhooks.listDeliveries(endpoint.id);
    while (deliveries.length === 0 && Date.now() < deadline) {
      await sleep(50);
      deliveries = await store.webhooks.listDeliveries(endpoint.id);
    }
    assert.equal(deliveries.length, 1, 'the one event after the endpoint was created, and none before');
    assert.match(deliveries[0]!.payload, /"m1000"/);
    assert.equal(await store.webhooks.intakeCursor(model.id), after!.id);
    await stop();
    await service.stop();
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
