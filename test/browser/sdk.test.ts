/**
 * The SDK's browser build in headless Chromium, against the real gateway and simulator:
 * connect (key in ?api_key=), events, getOnlines, every refusal as a typed error, reconnection
 * after the gateway restarts and after the upstream drops, no loop on INVALID_API_KEY, and no
 * uncaught error or unhandled rejection in the page.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { MODEL_USER_ID, waitFor } from '../helpers.js';
import { FAST_RECONNECT, quietPeriod, REFUSALS, startSdkStack, startUpgradeRecorder, type SdkStack } from '../sdk/sdk-harness.js';
import { browserSuiteOptions, launchChromium, openPage, startStaticServer, type StaticServer, type WatchedPage } from './browser-harness.js';

interface PlainError {
  code?: string;
  closeCode?: number;
  closeReason?: string;
  retryAfterMs?: number;
  message: string;
  isOfgwError: boolean;
}
type PageEvent =
  | { type: 'open'; reconnected: boolean }
  | { type: 'message'; frame: Record<string, unknown> | undefined; binary: boolean; raw: string | number[] }
  | { type: 'error'; code: string; closeCode?: number }
  | { type: 'close'; code: number; reason: string; errorCode: string; willReconnect: boolean }
  | { type: 'reconnecting'; attempt: number; delayMs: number; code: string; closeCode?: number };

/** What test/browser/fixtures/sdk-page.js puts on `window`. */
interface SdkPage {
  sdkTest: {
    connect(options: Record<string, unknown>): Promise<{ index: number; state: string } | { error: PlainError }>;
    events(index: number): PageEvent[];
    state(index: number): string;
    send(index: number, message: unknown): void;
    getOnlines(index: number, ids: unknown[], options?: { timeoutMs?: number }): Promise<{ online: unknown[] } | { error: PlainError }>;
    closed(index: number): Promise<PlainError>;
    close(index: number): Promise<string>;
  };
}

describe('the SDK in Chromium', browserSuiteOptions(), () => {
  let stack: SdkStack;
  let browser: Browser;
  let web: StaticServer;
  let watched: WatchedPage;
  let page: Page;
  const open: number[] = [];

  before(async () => {
    stack = await startSdkStack({ simulator: { invalidCommandCloseMs: false } });
    web = await startStaticServer();
    browser = await launchChromium();
    watched = await openPage(browser, `${web.origin}/sdk.html`);
    page = watched.page;
    await page.waitForFunction('window.sdkReady === true', undefined, { timeout: 10_000 });
  });
  afterEach(async () => {
    for (const index of open.splice(0)) await page.evaluate((i) => (globalThis as unknown as SdkPage).sdkTest.close(i), index);
    assert.deepEqual(await watched.problems(), [], 'no uncaught errors or unhandled rejections in the page');
  });
  after(async () => {
    await browser?.close();
    await web?.close();
    await stack?.close();
  });

  function options(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { baseUrl: stack.baseUrl, modelId: stack.modelId, apiKey: stack.apiKey, reconnect: FAST_RECONNECT, ...extra };
  }

  async function connected(extra: Record<string, unknown> = {}): Promise<number> {
    const result = await page.evaluate((o) => (globalThis as unknown as SdkPage).sdkTest.connect(o), options(extra));
    assert.ok('index' in result, `connect failed: ${JSON.stringify(result)}`);
    assert.equal(result.state, 'open');
    open.push(result.index);
    return result.index;
  }

  function events(index: number): Promise<PageEvent[]> {
    return page.evaluate((i) => (globalThis as unknown as SdkPage).sdkTest.events(i), index);
  }

  /** Waits until the client's recorded events satisfy `check` (polled in Node, bounded). */
  async function until(index: number, what: string, check: (events: PageEvent[]) => boolean, timeoutMs = 10_000): Promise<PageEvent[]> {
    let last: PageEvent[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      last = await events(index);
      if (check(last)) return last;
      if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}; events: ${JSON.stringify(last).slice(0, 2000)}`);
      await page.waitForTimeout(25);
    }
  }

  const messages = (list: PageEvent[]) => list.filter((e): e is Extract<PageEvent, { type: 'message' }> => e.type === 'message');

  it('connects, and relays events: parsed frames, unknown keys untouched, binary as raw bytes', async () => {
    const index = await connected();
    const frame = { api2_chat_message: { id: 1, text: '<p>hi</p>', fromUser: { id: 5 } }, some_future_key: [1, { a: 'b' }] };
    stack.sim.push(MODEL_USER_ID, frame);
    stack.sim.push(MODEL_USER_ID, Buffer.from('{"typing":{"id":42}}'), { binary: true });
    const list = messages(await until(index, 'two messages', (l) => messages(l).length === 2));
    assert.deepEqual(list[0]?.frame, frame);
    assert.equal(list[0]?.binary, false);
    assert.equal(list[1]?.binary, true);
    assert.deepEqual(list[1]?.frame, { typing: { id: 42 } });
    assert.deepEqual(list[1]?.raw, [...Buffer.from('{"typing":{"id":42}}')]);
  });

  it('getOnlines: concurrent requests each get their own reply; send() relays an action', async () => {
    stack.sim.setOnline(['12345678', 87654321]);
    const index = await connected();
    const replies = await page.evaluate(
      (i) => {
        const t = (globalThis as unknown as SdkPage).sdkTest;
        return Promise.all([t.getOnlines(i, ['12345678', '1']), t.getOnlines(i, [87654321]), t.getOnlines(i, ['2'])]);
      },
      index,
    );
    assert.deepEqual(replies, [{ online: ['12345678'] }, { online: [87654321] }, { online: [] }]);
    const before = stack.sim.received.length;
    await page.evaluate((i) => (globalThis as unknown as SdkPage).sdkTest.send(i, { act: 'typing', typing_to: 7 }), index);
    await waitFor(() => stack.sim.received.length > before, 5000, 'the action upstream');
    assert.deepEqual(JSON.parse(stack.sim.received[before]!.data.toString()), { act: 'typing', typing_to: 7 });
  });

  it('every refusal rejects connect() with an OfgwError carrying the code and the close code', async () => {
    for (const refusal of REFUSALS) {
      const { apiKey, modelId, keepOpen } = await refusal.arrange(stack);
      try {
        const result = await page.evaluate((o) => (globalThis as unknown as SdkPage).sdkTest.connect(o), options({ apiKey, modelId }));
        assert.ok('error' in result, `${refusal.code}: connect resolved`);
        assert.equal(result.error.isOfgwError, true);
        assert.equal(result.error.code, refusal.code);
        assert.equal(result.error.closeCode, refusal.closeCode);
        assert.equal(result.error.closeReason, refusal.code);
        if (refusal.code === 'RATE_LIMITED') assert.ok((result.error.retryAfterMs ?? 0) > 0);
      } finally {
        stack.sim.clearFaults();
        keepOpen?.socket.close();
        await keepOpen?.closed;
      }
    }
  });

  it('does not loop on INVALID_API_KEY: exactly one connection attempt reaches the gateway', async () => {
    const before = stack.attempts('INVALID_API_KEY');
    const result = await page.evaluate((o) => (globalThis as unknown as SdkPage).sdkTest.connect(o), options({ apiKey: 'ofgw_sk_wrong', retryInitial: true }));
    assert.ok('error' in result);
    assert.equal(result.error.code, 'INVALID_API_KEY');
    await waitFor(() => stack.attempts('INVALID_API_KEY') > before, 5000, 'the logged attempt');
    // Proving a retry does NOT happen needs a window: several times the longest backoff delay.
    await quietPeriod(4 * FAST_RECONNECT.maxDelayMs);
    assert.equal(stack.attempts('INVALID_API_KEY') - before, 1);
  });

  it('reconnects after the upstream drops (1014), then relays again', async () => {
    const index = await connected();
    stack.sim.dropConnections(MODEL_USER_ID);
    const list = await until(index, 'the reopen', (l) => l.some((e) => e.type === 'open' && e.reconnected));
    const close = list.find((e) => e.type === 'close');
    assert.deepEqual(close, { type: 'close', code: 1014, reason: close?.type === 'close' ? close.reason : '', errorCode: 'CLOSED', willReconnect: true });
    assert.ok(list.some((e) => e.type === 'reconnecting' && e.attempt === 1 && e.closeCode === 1014));
    stack.sim.push(MODEL_USER_ID, { subscribed: { user: { id: 9 }, timestamp: 1 } });
    await until(index, 'an event after the reopen', (l) => messages(l).some((m) => m.frame !== undefined && 'subscribed' in m.frame));
  });

  it('reconnects after the gateway restarts (1012), then relays again', async () => {
    const index = await connected();
    await stack.restartGateway();
    const list = await until(index, 'the reopen after the restart', (l) => l.some((e) => e.type === 'open' && e.reconnected));
    const close = list.find((e) => e.type === 'close');
    assert.equal(close?.type === 'close' && close.code, 1012);
    stack.sim.push(MODEL_USER_ID, { post_published: { id: '1', user_id: '2', show_posts_in_feed: true } });
    await until(index, 'an event after the restart', (l) => messages(l).some((m) => m.frame !== undefined && 'post_published' in m.frame));
  });

  it('close() stops for good: state closed, `closed` resolves with ABORTED, no reconnect', async () => {
    const index = await connected();
    const openedBefore = stack.opened();
    const state = await page.evaluate((i) => (globalThis as unknown as SdkPage).sdkTest.close(i), index);
    open.splice(open.indexOf(index), 1);
    assert.equal(state, 'closed');
    const final = await page.evaluate((i) => (globalThis as unknown as SdkPage).sdkTest.closed(i), index);
    assert.equal(final.code, 'ABORTED');
    await quietPeriod(4 * FAST_RECONNECT.maxDelayMs);
    assert.equal(stack.opened(), openedBefore);
    const result = await page.evaluate((i) => (globalThis as unknown as SdkPage).sdkTest.getOnlines(i, ['1']), index);
    assert.ok('error' in result && result.error.code === 'NOT_CONNECTED');
  });

  it('the page watch is not blind: it sees an unhandled rejection and an uncaught error', async () => {
    const other = await openPage(browser, `${web.origin}/`);
    try {
      await other.page.evaluate('Promise.reject(new Error("on purpose")); setTimeout(() => { throw new Error("thrown on purpose") }, 0); 1');
      let problems: string[] = [];
      const deadline = Date.now() + 5000;
      while (problems.length < 2 && Date.now() < deadline) {
        problems = await other.problems();
        await other.page.waitForTimeout(25);
      }
      assert.ok(problems.some((p) => p.includes('unhandledrejection') && p.includes('on purpose')), JSON.stringify(problems));
      assert.ok(problems.some((p) => p.includes('pageerror') && p.includes('thrown on purpose')), JSON.stringify(problems));
    } finally {
      await other.close();
    }
  });

  it('the browser entry sends the key in ?api_key= (a browser cannot set headers)', async () => {
    const recorder = await startUpgradeRecorder();
    try {
      const result = await page.evaluate((o) => (globalThis as unknown as SdkPage).sdkTest.connect(o), options({ baseUrl: recorder.url, reconnect: false }));
      assert.ok('error' in result && result.error.code === 'CLOSED' && result.error.closeCode === 1006, JSON.stringify(result));
      assert.equal(recorder.requests.length, 1);
      assert.equal(recorder.requests[0]?.url, `/api/models/${stack.modelId}/ws?api_key=${encodeURIComponent(stack.apiKey)}`);
      assert.equal(recorder.requests[0]?.headers['x-api-key'], undefined);
    } finally {
      await recorder.close();
    }
  });

  it('envelope format: the key joins the query after format and since', async () => {
    const recorder = await startUpgradeRecorder();
    try {
      const result = await page.evaluate((o) => (globalThis as unknown as SdkPage).sdkTest.connect(o), options({ baseUrl: recorder.url, reconnect: false, format: 'envelope', since: '17-0' }));
      assert.ok('error' in result && result.error.code === 'CLOSED', JSON.stringify(result));
      assert.equal(recorder.requests[0]?.url, `/api/models/${stack.modelId}/ws?format=envelope&since=17-0&api_key=${encodeURIComponent(stack.apiKey)}`);
    } finally {
      await recorder.close();
    }
  });

  it('envelope format: events reach message listeners with their frame, getOnlines goes by requestId', async () => {
    stack.sim.setOnline(['5']);
    const index = await connected({ format: 'envelope' });
    stack.sim.push(MODEL_USER_ID, { typing: { id: 8 } });
    const list = messages(await until(index, 'the event', (l) => messages(l).length === 1));
    assert.deepEqual(list[0]?.frame, { typing: { id: 8 } });
    const replies = await page.evaluate((i) => {
      const t = (globalThis as unknown as SdkPage).sdkTest;
      return Promise.all([t.getOnlines(i, ['5']), t.getOnlines(i, ['6'])]);
    }, index);
    assert.deepEqual(replies, [{ online: ['5'] }, { online: [] }]);
  });

  it('no API key in the gateway logs', () => {
    assert.ok(!stack.allLogs.lines.join('\n').includes(stack.apiKey));
  });
});
