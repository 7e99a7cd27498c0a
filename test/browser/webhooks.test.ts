/**
 * The SDK's webhook signatures in Chromium's WebCrypto (the browser build): what the
 * `standardwebhooks` package signs in Node verifies in the page, what the page signs verifies
 * with `standardwebhooks`, and a changed body is refused in the page too.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { browserSuiteOptions, launchChromium, openPage, startStaticServer, type StaticServer, type WatchedPage } from './browser-harness.js';

interface PageCall {
  op: 'verify' | 'sign';
  options: Record<string, unknown>;
}

/** Runs the browser build's verifyWebhook or signWebhook in the page; errors come back as their code. */
function inPage(page: Page, call: PageCall): Promise<Record<string, unknown>> {
  return page.evaluate(async ({ op, options }) => {
    // A specifier in a variable: the page's server maps it, TypeScript need not resolve it.
    const entry = '/sdk/browser.js';
    const sdk = (await import(entry)) as { verifyWebhook(o: unknown): Promise<Record<string, unknown>>; signWebhook(o: unknown): Promise<Record<string, unknown>> };
    try {
      return op === 'verify' ? await sdk.verifyWebhook(options) : await sdk.signWebhook(options);
    } catch (e) {
      return { error: (e as { code?: string }).code ?? String(e) };
    }
  }, call);
}

describe('webhook signatures in Chromium', browserSuiteOptions(), () => {
  let browser: Browser;
  let web: StaticServer;
  let watched: WatchedPage;
  before(async () => {
    web = await startStaticServer();
    browser = await launchChromium();
    watched = await openPage(browser, `${web.origin}/`);
  });
  after(async () => {
    await watched?.close();
    await browser?.close();
    await web?.close();
  });

  it('agrees with standardwebhooks both ways and refuses a changed body', async () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const body = JSON.stringify({ type: 'model.connected', timestamp: new Date().toISOString(), data: { modelId: '16f3d13b-9415-4e6b-babe-e8db6b31bd97', note: 'héllo ✓' } });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = { 'webhook-id': 'msg_browser', 'webhook-timestamp': String(timestamp), 'webhook-signature': new Webhook(secret).sign('msg_browser', new Date(timestamp * 1000), body) };

    const verified = await inPage(watched.page, { op: 'verify', options: { secret, headers, body } });
    assert.deepEqual(verified, { id: 'msg_browser', timestamp, payload: JSON.parse(body) });
    assert.deepEqual(await inPage(watched.page, { op: 'verify', options: { secret, headers, body: body.replace('héllo', 'hello') } }), { error: 'INVALID_SIGNATURE' });

    const signed = (await inPage(watched.page, { op: 'sign', options: { secret, id: 'msg_page', body } })) as Record<string, string>;
    assert.deepEqual(new Webhook(secret).verify(body, signed), JSON.parse(body));
    assert.deepEqual(await watched.problems(), []);
  });
});
