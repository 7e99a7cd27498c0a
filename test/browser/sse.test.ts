/**
 * Server-sent events in headless Chromium, from a page on another origin than the gateway:
 * the browser's own EventSource receives the events with their ids and names; when the gateway
 * drops the stream it reconnects by itself, sends Last-Event-ID, and gets what came meanwhile,
 * nothing missed and nothing twice. The same through the SDK's events() helper, which also
 * tells why a stream stopped for good.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { MODEL_USER_ID, startStack, waitFor, type Stack } from '../helpers.js';
import { browserSuiteOptions, launchChromium, openPage, startStaticServer, type StaticServer, type WatchedPage } from './browser-harness.js';

interface SourceRecord {
  events: { type: string; data: string; lastEventId: string }[];
  errors: number;
  readyState: number;
}
interface StreamRecord {
  events: { id: string; event: string | null; data: unknown; bytes?: number[] }[];
  readies: { modelId: string; lastEventId: string | null; resumed: boolean }[];
  statuses: unknown[];
  gaps: unknown[];
  reconnecting: number;
  closed: { code: string; message: string; isOfgwError: boolean } | null;
  state: string;
  lastEventId: string | undefined;
}
/** What test/browser/fixtures/sse-page.js puts on `window`. */
interface SsePage {
  sseTest: {
    open(url: string, names: string[]): number;
    record(index: number): SourceRecord;
    close(index: number): void;
    stream(options: Record<string, unknown>): number;
    streamRecord(index: number): StreamRecord;
    closeStream(index: number): void;
  };
}

describe('server-sent events in Chromium', browserSuiteOptions(), () => {
  let stack: Stack;
  let browser: Browser;
  let web: StaticServer;
  let watched: WatchedPage;
  let page: Page;
  let httpBase: string;

  before(async () => {
    stack = await startStack({ config: { sessionReconnectMinMs: 50, sessionReconnectMaxMs: 200, nodeTtlMs: 2000 } });
    await stack.store.updateModel(stack.modelId, { delivery: 'session' });
    await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 1, 5000, 'the session socket');
    httpBase = `http://127.0.0.1:${stack.gateway.address().port}`;
    web = await startStaticServer();
    browser = await launchChromium();
    watched = await openPage(browser, `${web.origin}/sse.html`);
    page = watched.page;
    await page.waitForFunction('window.sseReady === true', undefined, { timeout: 10_000 });
  });
  afterEach(async () => {
    assert.deepEqual(await watched.problems(), [], 'no uncaught errors or unhandled rejections in the page');
  });
  after(async () => {
    await browser?.close();
    await web?.close();
    await stack?.close();
  });

  /** Polls the page (bounded) until `check` holds for what `read` returns. */
  async function until<T>(what: string, read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (check(value)) return value;
      if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(value).slice(0, 2000)}`);
      await page.waitForTimeout(25);
    }
  }

  /** The one open stream of the model: what an operator would close. */
  async function dropTheStream(): Promise<void> {
    const { relays } = await stack.gateway.listRelays({ modelId: stack.modelId });
    const open = relays.filter((r) => r.state === 'open');
    assert.equal(open.length, 1, JSON.stringify(relays));
    await stack.gateway.closeRelay(open[0]!.id);
  }

  const chat = (id: number): string => `{"api2_chat_message":{"id":${id}}}`;

  it('EventSource gets ready and the events; dropped by the gateway, it reconnects with Last-Event-ID and misses nothing', async () => {
    const url = `${httpBase}/api/models/${stack.modelId}/events?api_key=${encodeURIComponent(stack.apiKey)}`;
    const index = await page.evaluate(([u, names]) => (globalThis as unknown as SsePage).sseTest.open(u, names), [url, ['api2_chat_message']] as [string, string[]]);
    const record = () => page.evaluate((i) => (globalThis as unknown as SsePage).sseTest.record(i), index);
    const chats = (r: SourceRecord) => r.events.filter((e) => e.type === 'api2_chat_message');
    await until('ready', record, (r) => r.events.some((e) => e.type === 'ready'));
    for (let i = 1; i <= 3; i++) stack.sim.push(MODEL_USER_ID, chat(i));
    await until('three events', record, (r) => chats(r).length === 3);

    await dropTheStream();
    // Logged while the browser is away: the resume must bring them.
    for (let i = 4; i <= 6; i++) stack.sim.push(MODEL_USER_ID, chat(i));
    const r = await until('the reconnect and six events', record, (x) => chats(x).length >= 6 && x.events.filter((e) => e.type === 'ready').length === 2);
    stack.sim.push(MODEL_USER_ID, chat(7));
    const final = await until('the live tail after the resume', record, (x) => chats(x).length >= 7);
    const got = chats(final).map((e) => (JSON.parse(e.data) as { api2_chat_message: { id: number } }).api2_chat_message.id);
    assert.deepEqual(got, [1, 2, 3, 4, 5, 6, 7], 'every event once, in order');
    const ids = chats(final).map((e) => e.lastEventId);
    assert.equal(new Set(ids).size, 7);
    assert.ok(ids.every((id) => /^\d+-\d+$/.test(id)));
    const readies = r.events.filter((e) => e.type === 'ready').map((e) => JSON.parse(e.data) as { resumed: boolean });
    assert.deepEqual(
      readies.map((x) => x.resumed),
      [false, true],
      'the second stream resumed from the id the browser sent itself',
    );
    assert.ok(final.errors >= 1, 'the browser saw the drop');
    assert.equal(final.readyState, 1, 'open again');
    await page.evaluate((i) => (globalThis as unknown as SsePage).sseTest.close(i), index);
  });

  it('the SDK helper: typed events across a drop, none missed or doubled, lastEventId kept', async () => {
    const index = await page.evaluate((o) => (globalThis as unknown as SsePage).sseTest.stream(o), { baseUrl: stack.baseUrl, modelId: stack.modelId, apiKey: stack.apiKey });
    const record = () => page.evaluate((i) => (globalThis as unknown as SsePage).sseTest.streamRecord(i), index);
    await until('ready', record, (r) => r.readies.length === 1 && r.state === 'open');
    stack.sim.push(MODEL_USER_ID, chat(11));
    stack.sim.push(MODEL_USER_ID, '{"a_key_nobody_knows":{"x":1}}');
    stack.sim.push(MODEL_USER_ID, Buffer.from('{"typing":{"id":3}}'), { binary: true });
    await until('three events', record, (r) => r.events.length === 3);
    await dropTheStream();
    stack.sim.push(MODEL_USER_ID, chat(12));
    const r = await until('the resume', record, (x) => x.events.length >= 4 && x.readies.length === 2);
    assert.deepEqual(
      r.events.map((e) => e.event),
      ['api2_chat_message', 'a_key_nobody_knows', 'typing', 'api2_chat_message'],
    );
    assert.deepEqual(r.events[1]?.data, { a_key_nobody_knows: { x: 1 } }, 'a key nobody knows yet arrives too');
    assert.deepEqual(r.events[2]?.bytes, [...Buffer.from('{"typing":{"id":3}}')]);
    assert.deepEqual(r.events[2]?.data, { typing: { id: 3 } });
    assert.equal(new Set(r.events.map((e) => e.id)).size, 4);
    assert.equal(r.lastEventId, r.events[3]?.id);
    assert.equal(r.readies[1]?.resumed, true);
    assert.ok(r.reconnecting >= 1);
    await page.evaluate((i) => (globalThis as unknown as SsePage).sseTest.closeStream(i), index);
    assert.equal((await record()).closed?.code, 'ABORTED');
  });

  it('the SDK helper stops for good on a revoked key and on a refusal, and says why', async () => {
    const key = await stack.store.createApiKey(stack.orgId, { name: 'revoked in the browser test' });
    const index = await page.evaluate((o) => (globalThis as unknown as SsePage).sseTest.stream(o), { baseUrl: stack.baseUrl, modelId: stack.modelId, apiKey: key.key });
    const record = () => page.evaluate((i) => (globalThis as unknown as SsePage).sseTest.streamRecord(i), index);
    await until('ready', record, (r) => r.state === 'open');
    await stack.store.revokeApiKey(key.id);
    const revoked = await until('the stop', record, (r) => r.closed !== null);
    assert.equal(revoked.closed?.code, 'INVALID_API_KEY');
    assert.equal(revoked.closed?.isOfgwError, true);
    assert.equal(revoked.state, 'closed');

    const refused = await page.evaluate((o) => (globalThis as unknown as SsePage).sseTest.stream(o), { baseUrl: stack.baseUrl, modelId: stack.modelId, apiKey: 'ofgw_sk_wrong' });
    const r = await until('the refusal', () => page.evaluate((i) => (globalThis as unknown as SsePage).sseTest.streamRecord(i), refused), (x) => x.closed !== null);
    assert.equal(r.closed?.code, 'INVALID_API_KEY', 'read from the refusal the EventSource could not tell');
    assert.equal(r.readies.length, 0);
  });
});
