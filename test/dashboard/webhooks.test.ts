/**
 * The dashboard's Webhooks page in headless Chromium (issue 15 point 6), against a real gateway
 * with webhookAllowPrivateTargets on and a real receiver on 127.0.0.1: add an endpoint and copy
 * its secret (shown once), send a test the receiver verifies with it, read the delivery log
 * (filter, attempts), redeliver, disable and enable, rotate (the new secret signs), delete.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { browserSuiteOptions, launchChromium, openPage, type WatchedPage } from '../browser/browser-harness.js';
import { waitFor } from '../helpers.js';
import { startReceiver, verified, type Receiver } from '../webhooks/receiver.js';
import { ADMIN_TOKEN, startDashboardStack, type DashboardStack } from './dashboard-helpers.js';
import { form, goTo, signIn } from './dashboard-flow.js';

/** What the test reads in the page (the root tsconfig has no DOM types). */
interface InPage {
  navigator: { clipboard: { readText(): Promise<string> } };
  localStorage: { length: number };
  sessionStorage: { length: number };
  location: { href: string };
  document: { documentElement: { outerHTML: string } };
}

describe('the Webhooks page in Chromium', browserSuiteOptions(), () => {
  let stack: DashboardStack;
  let receiver: Receiver;
  let browser: Browser;
  let watched: WatchedPage;
  let page: Page;
  let secret = '';

  before(async () => {
    receiver = await startReceiver();
    stack = await startDashboardStack({ config: { webhookAllowPrivateTargets: true } });
    browser = await launchChromium();
    watched = await openPage(browser, `${stack.httpUrl}/dashboard`);
    page = watched.page;
    await watched.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.httpUrl });
    await signIn(page, ADMIN_TOKEN);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await goTo(page, 'Webhooks');
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
    await receiver?.close();
  });

  const row = (): Locator => page.locator('tr[data-webhook]').first();
  const received = (id: string) => receiver.requests.filter((r) => r.headers['webhook-id'] === id);
  const newestDeliveryId = async (): Promise<string> => (await page.locator('tr[data-delivery]').first().getAttribute('data-delivery')) ?? '';

  it('refuses a bad filter with the API\'s words, keeping the inputs', async () => {
    const add = form(page, 'New endpoint');
    await add.getByLabel('URL').fill(receiver.url);
    await add.getByLabel('Events (optional)').fill('webhook.test, Bad Type!');
    await add.getByRole('button', { name: 'Add endpoint' }).click();
    await add.locator('..').getByRole('alert').getByText(/events\.1 must list event types/).waitFor();
    assert.equal(await add.getByLabel('URL').inputValue(), receiver.url);
  });

  it('adds an endpoint: the secret is shown once, copied with the button, and kept nowhere', async () => {
    const add = form(page, 'New endpoint');
    await add.getByLabel('Events (optional)').fill('webhook.test, onlyfans.*');
    await add.getByRole('button', { name: 'Add endpoint' }).click();
    const shown = page.getByLabel('The signing secret');
    await shown.waitFor();
    secret = await shown.inputValue();
    assert.match(secret, /^whsec_/);
    await page.getByRole('status', { name: 'Signing secret' }).getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('button', { name: 'Copied ✓' }).waitFor();
    assert.equal(await page.evaluate(() => (globalThis as unknown as InPage).navigator.clipboard.readText()), secret);
    await row().getByText('webhook.test, onlyfans.*').waitFor();
    await row().getByText('enabled', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'I have copied it' }).click();
    await shown.waitFor({ state: 'detached' });
    const kept = await page.evaluate(() => {
      const w = globalThis as unknown as InPage;
      return { stored: w.localStorage.length + w.sessionStorage.length, href: w.location.href, html: w.document.documentElement.outerHTML };
    });
    assert.equal(kept.stored, 0, 'nothing in storage');
    assert.ok(!kept.href.includes(secret));
    assert.ok(!kept.html.includes(secret), 'gone from the page');
  });

  it('sends a test the receiver verifies; the log shows it delivered with its attempt, filters by status, and redelivers', async () => {
    await row().getByRole('button', { name: 'Send test' }).click();
    await row().getByRole('button', { name: 'Test queued ✓' }).waitFor();
    await waitFor(() => receiver.requests.length === 1, 10_000, 'the test delivery');
    const first = receiver.requests[0]!;
    assert.equal((verified(secret, first) as { type: string }).type, 'webhook.test');
    const id = String(first.headers['webhook-id']);

    await row().getByRole('button', { name: 'Deliveries' }).click();
    const log = page.getByRole('region', { name: /^Deliveries to / });
    await log.waitFor();
    const delivery = log.locator(`tr[data-delivery="${id}"]`);
    for (let i = 0; i < 100 && !(await delivery.getByText('delivered', { exact: true }).isVisible()); i++) {
      await log.getByRole('button', { name: 'Refresh' }).click();
      await page.waitForTimeout(100);
    }
    await delivery.getByText('delivered', { exact: true }).waitFor();
    await delivery.getByRole('button', { name: 'Attempts' }).click();
    await delivery.getByRole('list', { name: 'Attempts' }).getByText(/· 200 · \d+ ms ·/).waitFor();

    await log.getByLabel('Status').selectOption('failed');
    await log.getByText('No delivery failed yet.').waitFor();
    await log.getByLabel('Status').selectOption('delivered');
    await delivery.waitFor();
    assert.equal(await newestDeliveryId(), id);

    await delivery.getByRole('button', { name: 'Redeliver' }).click();
    await waitFor(() => received(id).length === 2, 10_000, 'the redelivery, with the same webhook-id');
    verified(secret, received(id)[1]!);
  });

  it('disables and enables the endpoint', async () => {
    await row().getByRole('button', { name: 'Disable' }).click();
    await row().getByText('disabled', { exact: true }).waitFor();
    await row().getByText('disabled by an operator').waitFor();
    await row().getByRole('button', { name: 'Enable' }).click();
    await row().getByText('enabled', { exact: true }).waitFor();
    assert.equal(await row().getByText('disabled by an operator').count(), 0);
  });

  it('rotates the secret after asking: the new one is shown once and signs the next test', async () => {
    await row().getByRole('button', { name: 'Rotate secret' }).click();
    await row().getByRole('button', { name: 'Yes, rotate secret' }).click();
    const shown = page.getByLabel('The signing secret');
    await shown.waitFor();
    const rotated = await shown.inputValue();
    assert.match(rotated, /^whsec_/);
    assert.notEqual(rotated, secret);
    await page.getByText(/The previous secret keeps signing too until/).waitFor();
    await page.getByRole('button', { name: 'I have copied it' }).click();
    const before = receiver.requests.length;
    await row().getByRole('button', { name: /Send test|Test queued/ }).click();
    await waitFor(() => receiver.requests.length > before, 10_000, 'the test after rotation');
    verified(rotated, receiver.requests[before]!);
  });

  it('deletes the endpoint after asking', async () => {
    await row().getByRole('button', { name: 'Delete' }).click();
    await row().getByRole('button', { name: 'Yes, delete' }).click();
    await page.getByText('No webhook endpoint yet.').waitFor();
    assert.deepEqual(await stack.store.webhooks.listEndpoints(stack.orgId), []);
  });
});
