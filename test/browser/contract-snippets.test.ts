/**
 * Contract §8 in a real browser: the JavaScript snippets, extracted from the contract at test
 * time, run verbatim in headless Chromium against the real gateway and simulator — with only
 * `host`, `modelId` and `apiKey` defined by the page and ws:// for wss:// (a plain local
 * gateway). The confirmation, an event, the get_onlines reply, and each error code of the
 * contract with its close code must show in the page's console as the snippets print them.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { MODEL_USER_ID, waitFor } from '../helpers.js';
import { REFUSALS, startSdkStack, type SdkStack } from '../sdk/sdk-harness.js';
import { browserSuiteOptions, launchChromium, openPage, REPO_ROOT, startStaticServer, type ConsoleCall, type StaticServer, type WatchedPage } from './browser-harness.js';

const CONTRACT = join(REPO_ROOT, '..', 'shared', 'spec', 'gateway-contract.md');
const FIXTURE = join(REPO_ROOT, 'test', 'browser', 'fixtures', 'contract-section8.md');

/** §8 of a markdown text: from its heading to the next `## ` heading. */
function section8(markdown: string): string {
  const start = markdown.search(/^## 8\./m);
  assert.ok(start !== -1, 'the contract has a "## 8." section');
  const rest = markdown.slice(start + 1);
  const next = rest.search(/^## /m);
  return (next === -1 ? markdown.slice(start) : markdown.slice(start, start + 1 + next)).trim();
}

/** The ```js blocks of §8: listening, get_onlines, reconnecting. */
function snippets(): { listen: string; getOnlines: string; reconnect: string; source: string } {
  const source = existsSync(CONTRACT) ? CONTRACT : FIXTURE;
  const blocks = [...section8(readFileSync(source, 'utf8')).matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  assert.equal(blocks.length, 3, `§8 of ${source} has three js snippets`);
  const [listen, getOnlines, reconnect] = blocks as [string, string, string];
  return { listen, getOnlines, reconnect, source };
}

/** The one change the snippets need against a plain local gateway. */
function local(snippet: string): string {
  return snippet.replaceAll('wss://', 'ws://');
}

describe('the contract §8 fixture', () => {
  it('is a copy of §8 of the contract (checked when shared/spec is beside the repository)', (t) => {
    if (!existsSync(CONTRACT)) return t.skip(`${CONTRACT} is not here`);
    const fixture = readFileSync(FIXTURE, 'utf8').replace(/^<!--[\s\S]*?-->\n/, '');
    assert.equal(section8(fixture), section8(readFileSync(CONTRACT, 'utf8')), 'update test/browser/fixtures/contract-section8.md from the contract');
  });
});

describe('contract §8 snippets in Chromium', browserSuiteOptions(), () => {
  let stack: SdkStack;
  let browser: Browser;
  let web: StaticServer;
  const code = snippets();
  const pages: WatchedPage[] = [];

  before(async () => {
    stack = await startSdkStack({
      // Small buffers so a page that stops reading meets SLOW_CONSUMER quickly.
      config: { highWaterBytes: 64 * 1024, lowWaterBytes: 16 * 1024, slowConsumerTimeoutMs: 400, closeTimeoutMs: 5000 },
      simulator: { invalidCommandCloseMs: false },
    });
    web = await startStaticServer();
    browser = await launchChromium();
  });
  afterEach(async () => {
    for (const p of pages.splice(0)) {
      assert.deepEqual(await p.problems(), [], 'no page errors or unhandled rejections');
      await p.close();
    }
  });
  after(async () => {
    await browser?.close();
    await web?.close();
    await stack?.close();
  });

  /** A fresh page with the snippets' three free variables defined. */
  async function pageWith(vars: { modelId: string; apiKey: string }): Promise<WatchedPage> {
    const watched = await openPage(browser, `${web.origin}/`);
    pages.push(watched);
    const host = stack.baseUrl.replace('ws://', '');
    await watched.page.addScriptTag({ content: `var host = ${JSON.stringify(host)}; var modelId = ${JSON.stringify(vars.modelId)}; var apiKey = ${JSON.stringify(vars.apiKey)};` });
    return watched;
  }

  /** Waits for a console call matching `match` (checked in Node, polled through the page). */
  async function consoleCall(watched: WatchedPage, what: string, match: (c: ConsoleCall) => boolean, timeoutMs = 10_000): Promise<ConsoleCall> {
    let found: ConsoleCall | undefined;
    const deadline = Date.now() + timeoutMs;
    while (!found) {
      found = (await watched.consoleCalls()).find(match);
      if (found) break;
      if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}; console: ${JSON.stringify(await watched.consoleCalls()).slice(0, 2000)}`);
      await watched.page.waitForTimeout(25);
    }
    return found;
  }

  it(`listening: the confirmation, an event, then the get_onlines reply (snippets from ${code.source})`, async () => {
    const watched = await pageWith({ modelId: stack.modelId, apiKey: stack.apiKey });
    await watched.page.addScriptTag({ content: local(code.listen) });
    await consoleCall(watched, 'the confirmation', (c) => c.args[0] === 'relay open for model' && c.args[1] === stack.modelId);

    const event = { api2_chat_message: { id: 9372017685098, text: '<p>hey 😘</p>', fromUser: { id: 562630475 } } };
    stack.sim.push(MODEL_USER_ID, event);
    const printed = await consoleCall(watched, 'the event', (c) => c.args[0] === 'OnlyFans event');
    assert.deepEqual(printed.args[1], event);

    stack.sim.setOnline(['12345678']);
    await watched.page.addScriptTag({ content: local(code.getOnlines) });
    const online = await consoleCall(watched, 'the get_onlines reply', (c) => c.args[0] === 'OnlyFans event' && typeof c.args[1] === 'object' && c.args[1] !== null && 'online' in c.args[1]);
    assert.deepEqual(online.args[1], { online: ['12345678'] });
  });

  for (const refusal of REFUSALS) {
    it(`${refusal.code}: the page prints the code, then the close ${refusal.closeCode} with the code as reason`, async () => {
      const { apiKey, modelId, keepOpen } = await refusal.arrange(stack);
      try {
        const watched = await pageWith({ modelId, apiKey });
        await watched.page.addScriptTag({ content: local(code.listen) });
        const closed = await consoleCall(watched, 'the close', (c) => c.args[0] === 'closed');
        assert.deepEqual(closed.args, ['closed', refusal.closeCode, refusal.code]);
        const refused = (await watched.consoleCalls()).filter((c) => c.level === 'error' && c.args[0] === 'refused:');
        assert.equal(refused.length, 1);
        assert.equal(refused[0]?.args[1], refusal.code);
        assert.equal(typeof refused[0]?.args[2], 'string');
      } finally {
        stack.sim.clearFaults();
        keepOpen?.socket.close();
        await keepOpen?.closed;
      }
    });
  }

  it('SLOW_CONSUMER: a page that stops reading prints the code, then the close 4408', async () => {
    const watched = await pageWith({ modelId: stack.modelId, apiKey: stack.apiKey });
    await watched.page.addScriptTag({ content: local(code.listen) });
    await consoleCall(watched, 'the confirmation', (c) => c.args[0] === 'relay open for model');
    const pair = [...stack.current.registry.all].find((p) => p.isOpen && p.admission?.modelId === stack.modelId);
    assert.ok(pair, 'the page relay is open');
    // Block the page's only thread for a while: Chromium stops reading the socket, the gateway's
    // buffer towards the page fills, the upstream is paused, and after slowConsumerTimeoutMs the
    // relay ends with SLOW_CONSUMER. The page reads again well within closeTimeoutMs, so the
    // error frame and the close reach it (a client that never reads again sees only 1006).
    const blockedAt = Date.now();
    await watched.page.evaluate('setTimeout(() => { const end = Date.now() + 2000; while (Date.now() < end); }, 0)');
    const chunk = `{"api2_chat_message":{"text":"${'x'.repeat(16 * 1024)}"}}`;
    for (let i = 0; i < 4000 && pair.outcome === 'ok'; i++) {
      stack.sim.push(MODEL_USER_ID, chunk);
      if (i % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => pair.outcome === 'SLOW_CONSUMER', 10_000, 'the slow-consumer verdict');
    assert.ok(Date.now() - blockedAt < 2000, `the verdict came ${Date.now() - blockedAt} ms after the page stopped reading, before it read again`);
    const closed = await consoleCall(watched, 'the close', (c) => c.args[0] === 'closed', 20_000);
    assert.deepEqual(closed.args, ['closed', 4408, 'SLOW_CONSUMER']);
    const refused = (await watched.consoleCalls()).filter((c) => c.level === 'error' && c.args[0] === 'refused:');
    assert.equal(refused[0]?.args[1], 'SLOW_CONSUMER');
  });

  it('reconnecting: the snippet opens a relay, and another after the upstream drops (1014)', async () => {
    const watched = await pageWith({ modelId: stack.modelId, apiKey: stack.apiKey });
    const before = stack.opened();
    await watched.page.addScriptTag({ content: local(code.reconnect) });
    await watched.page.addScriptTag({ content: 'open(modelId, apiKey)' });
    await waitFor(() => stack.opened() === before + 1, 10_000, 'the first relay');
    stack.sim.dropConnections(MODEL_USER_ID);
    // The snippet waits min(1000·2^1, 30000) = 2 s before its second socket.
    await waitFor(() => stack.opened() === before + 2, 10_000, 'the relay reopened by the snippet');
  });

  it('no API key in the gateway logs (the page sent it in the query)', () => {
    assert.ok(!stack.allLogs.lines.join('\n').includes(stack.apiKey));
  });
});
