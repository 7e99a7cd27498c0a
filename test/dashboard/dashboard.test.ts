/**
 * The dashboard in headless Chromium against a real gateway and simulator: the issue's flow
 * end to end (sign in, create and activate an organization, create a key and read it from
 * the page, add a model pointed at the simulator, see events and get_onlines in the
 * playground, close a relay from the Relays page, revoke the key and see the playground's
 * relay closed with 4401), plus what must hold on the way: clear errors, inputs kept after a
 * failure, the cookie's flags, CSRF, no token in storage or URLs, phone width.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { browserSuiteOptions, launchChromium, openPage, type WatchedPage } from '../browser/browser-harness.js';
import { TestClient } from '../helpers.js';
import { ADMIN_TOKEN, overviewTraffic, startDashboardStack, type DashboardStack } from './dashboard-helpers.js';
import {
  activate,
  addModel,
  askToDeleteOrganization,
  createKey,
  createOrganization,
  fillModel,
  filterAudit,
  form,
  frameArrives,
  goTo,
  openPlayground,
  overviewSeriesPeak,
  pickOrganization,
  renameOrganization,
  rotateKey,
  signIn,
  switchDelivery,
} from './dashboard-flow.js';

/** What the tests read in the page (the root tsconfig has no DOM types). */
interface InPage {
  document: { cookie: string; querySelectorAll(selector: string): { length: number }; documentElement: { outerHTML: string; scrollWidth: number } };
  navigator: { clipboard: { readText(): Promise<string> } };
  localStorage: PageStorage;
  sessionStorage: PageStorage;
  location: { href: string };
  innerWidth: number;
}
type PageStorage = Record<string, string> & { getItem(key: string): string | null };

const ORG = 'Browser Agency';
const RENAMED = 'Browser Agency Ltd';
const MODEL = 'Sim model';
const USER_ID = 777001;

describe('the dashboard in Chromium', browserSuiteOptions(), () => {
  let stack: DashboardStack;
  let browser: Browser;
  let watched: WatchedPage;
  let page: Page;
  let apiKey = '';
  const overviewClients: TestClient[] = [];

  before(async () => {
    stack = await startDashboardStack();
    browser = await launchChromium();
    watched = await openPage(browser, `${stack.httpUrl}/dashboard`);
    page = watched.page;
    await watched.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.httpUrl });
  });
  after(async () => {
    for (const c of overviewClients) c.socket.terminate();
    await browser?.close();
    await stack?.close();
  });

  it('a page load logs no error in the browser console, signed out (the session check is not a 401) or signed in', async () => {
    const context = await browser.newContext();
    try {
      const fresh = await context.newPage();
      const errors: string[] = [];
      fresh.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      await fresh.goto(`${stack.httpUrl}/dashboard`);
      await form(fresh, 'Sign in').waitFor();
      await signIn(fresh, ADMIN_TOKEN);
      await fresh.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      await fresh.reload();
      await fresh.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      // Every answer of both loads has arrived: the pages rendered what they asked for.
      await fresh.locator('figure.chart').first().waitFor();
      await goTo(fresh, 'Organizations');
      await fresh.getByRole('table').first().waitFor();
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  it('refuses a wrong token with a clear error and sets no cookie', async () => {
    await signIn(page, 'wrong-token-0123456789abcdef0123456789');
    await form(page, 'Sign in').getByRole('alert').getByText(/Wrong admin token/).waitFor();
    assert.deepEqual(await watched.context.cookies(), []);
    assert.equal(await form(page, 'Sign in').getByLabel('Admin token').inputValue(), 'wrong-token-0123456789abcdef0123456789', 'kept for correcting');
    await form(page, 'Sign in').getByLabel('Admin token').fill('');
    await form(page, 'Sign in').getByRole('button', { name: 'Sign in' }).click();
    await form(page, 'Sign in').getByRole('alert').getByText(/Admin token: required/).waitFor();
  });

  it('signs in to an HttpOnly, SameSite=Strict session cookie, landing on the Overview', async () => {
    await signIn(page, ADMIN_TOKEN);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    const cookies = await watched.context.cookies();
    assert.equal(cookies.length, 1);
    const [cookie] = cookies;
    assert.equal(cookie?.name, 'ofgw_session');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    assert.equal(cookie?.path, '/');
    assert.ok(!cookie?.value.includes(ADMIN_TOKEN));
    assert.equal(await page.evaluate(() => (globalThis as unknown as InPage).document.cookie), '', 'the page cannot read the session');
  });

  it('creates an organization and activates its subscription', async () => {
    await goTo(page, 'Organizations');
    const row = await createOrganization(page, ORG);
    await row.getByText('no subscription').waitFor();
    await activate(page, ORG, 'pro');
    await row.getByText('pro', { exact: false }).first().waitFor();
    const org = (await stack.store.listOrganizations()).find((o) => o.name === ORG);
    assert.equal((await stack.store.getSubscription(org?.id ?? ''))?.status, 'active');
  });

  it('creates a key, shows it once with a copy button, and lists it by prefix', async () => {
    await goTo(page, 'API keys');
    await pickOrganization(page, ORG);
    apiKey = await createKey(page, 'playground');
    assert.match(apiKey, /^ofgw_sk_[A-Za-z0-9]{38}$/);
    await page.getByText("Copy it now: you won't see it again.").waitFor();
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('button', { name: 'Copied ✓' }).waitFor();
    assert.equal(await page.evaluate(() => (globalThis as unknown as InPage).navigator.clipboard.readText()), apiKey);
    const stored = await stack.store.findApiKey(apiKey);
    assert.ok(stored, 'the page shows the real key');
    await page.locator(`tr[data-key="${stored.id}"]`).getByText(`${stored.prefix}…`).waitFor();
  });

  it('names the field on a client-side error and keeps every input after a failed request', async () => {
    await goTo(page, 'Models');
    await pickOrganization(page, ORG);
    const add = form(page, 'Add a model');
    await add.getByRole('button', { name: 'Add model' }).click();
    await add.getByRole('alert').getByText(/WebSocket URL: required/).waitFor();
    // The server refuses a 300-character name; nothing typed is lost.
    const model = { name: 'x'.repeat(300), wsUrl: stack.sim.wsUrl(24), wsToken: stack.sim.issueToken({ userId: USER_ID }), userAgent: 'DashboardTest/1.0' };
    await fillModel(page, model);
    await add.getByRole('button', { name: 'Add model' }).click();
    await add.getByRole('alert').getByText(/name must be 1–200 characters/).waitFor();
    assert.equal(await add.getByLabel('Name', { exact: true }).inputValue(), model.name);
    assert.equal(await add.getByLabel('WebSocket URL').inputValue(), model.wsUrl);
    assert.equal(await add.getByLabel('WebSocket token').inputValue(), model.wsToken);
    assert.equal(await add.getByLabel('User-Agent').inputValue(), model.userAgent);
    assert.equal(await add.getByLabel('WebSocket token').getAttribute('type'), 'password');
  });

  it('adds a model pointed at the simulator', async () => {
    const card = await addModel(page, { name: MODEL, wsUrl: stack.sim.wsUrl(24), wsToken: stack.sim.issueToken({ userId: USER_ID }), userAgent: 'DashboardTest/1.0' });
    await card.getByText('connected', { exact: true }).waitFor();
    await card.getByText('stored').first().waitFor();
    await card.getByRole('button', { name: 'Lifecycle events' }).click();
    await card.getByRole('list', { name: 'Lifecycle events' }).getByText('created').waitFor();
  });

  it('switches a model between relay and session delivery from its card; the API answers the new mode', async () => {
    const card = page.getByRole('article', { name: `Model ${MODEL}` });
    const modelId = (await card.getAttribute('data-model')) ?? '';
    const delivery = async (): Promise<unknown> => (await stack.call('GET', `/admin/v1/models/${modelId}`, undefined, { authorization: `Bearer ${ADMIN_TOKEN}` })).json().delivery;
    const toggle = card.getByRole('group', { name: 'Delivery' });
    assert.equal(await toggle.getByRole('button', { name: 'relay', exact: true }).getAttribute('aria-pressed'), 'true', 'a new model relays');
    assert.equal(await delivery(), 'relay');

    await switchDelivery(card, 'session');
    assert.equal(await delivery(), 'session');
    assert.equal(await toggle.getByRole('button', { name: 'relay', exact: true }).getAttribute('aria-pressed'), 'false');
    const [event] = await stack.store.listModelEvents(modelId, 1);
    assert.deepEqual([event?.kind, event?.reason], ['delivery_changed', 'relay → session']);
    const [audit] = await stack.store.listAudit({ targetId: modelId, action: 'model.updated' });
    assert.equal(audit?.actorKind, 'dashboard');
    assert.deepEqual(audit?.details, { fields: ['delivery'], previousDelivery: 'relay', delivery: 'session' });

    // Back to relay: the rest of the flow relays.
    await switchDelivery(card, 'relay');
    assert.equal(await delivery(), 'relay');
  });

  it('opens the playground, shows simulator events as they arrive and the answer to get_onlines', async () => {
    await goTo(page, 'Playground');
    await openPlayground(page, MODEL);
    await frameArrives(page, '"connected":true');
    stack.sim.push(USER_ID, { api2_chat_message: { id: 4242, text: 'hello from the simulator' } });
    await frameArrives(page, 'hello from the simulator');
    stack.sim.setOnline(['12345678']);
    await form(page, 'Send an action').getByRole('button', { name: 'Send' }).click();
    await frameArrives(page, '"online"');
    await frameArrives(page, '12345678');
    const texts = await page.locator('li.frame').allTextContents();
    assert.match(texts[0] ?? '', /online/, 'newest first');
  });

  it('lists live relays across the cluster and closes one', async () => {
    const other = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': stack.apiKey } });
    await other.confirmed();
    await goTo(page, 'Live relays');
    const rows = page.locator('tr[data-relay]');
    await page.waitForFunction(() => (globalThis as unknown as InPage).document.querySelectorAll('tr[data-relay]').length === 2);
    const otherRow = rows.filter({ hasText: 'Acme Agency' });
    await otherRow.getByText('Model A').waitFor();
    await rows.filter({ hasText: ORG }).getByText(MODEL).waitFor();
    await otherRow.getByRole('button', { name: 'Close' }).click();
    await otherRow.getByRole('button', { name: 'Yes, close' }).click();
    assert.deepEqual(await other.closed, { code: 1000, reason: 'closed by operator' });
    await page.waitForFunction(() => (globalThis as unknown as InPage).document.querySelectorAll('tr[data-relay]').length === 1);
    await page.getByRole('table').first().getByText(/^\d+ msg/).first().waitFor();
  });

  it('revoking the key on the Keys page closes the playground relay with 4401', async () => {
    await goTo(page, 'API keys');
    const stored = await stack.store.findApiKey(apiKey);
    const row = page.locator(`tr[data-key="${stored?.id ?? ''}"]`);
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByRole('button', { name: 'Yes, revoke' }).click();
    await row.getByText('revoked').waitFor();
    await page.getByLabel('playground closed').waitFor();
    await goTo(page, 'Playground');
    await page.locator('.relay-status[data-status=closed]').waitFor();
    assert.equal(await page.locator('.close-code').textContent(), '4401');
    assert.equal(await page.locator('.close-reason').textContent(), 'INVALID_API_KEY');
    await frameArrives(page, 'INVALID_API_KEY');
  });

  it('rotates a key with a grace period: the new key is shown once, the old one keeps working until then', async () => {
    await goTo(page, 'API keys');
    await pickOrganization(page, ORG);
    const oldKey = await createKey(page, 'rotating');
    const old = await stack.store.findApiKey(oldKey);
    assert.ok(old);
    const newKey = await rotateKey(page, old.id, 'works 1 more hour');
    assert.notEqual(newKey, oldKey);
    const fresh = await stack.store.findApiKey(newKey);
    assert.equal(fresh?.name, 'rotating');
    const row = page.locator(`tr[data-key="${old.id}"]`);
    await row.getByText('rotated, in grace').waitFor();
    assert.equal(await row.getByRole('button', { name: 'Rotate' }).count(), 0, 'a rotated key cannot be rotated again');
    const after = await stack.store.getApiKey(old.id);
    assert.equal(after?.replacedBy, fresh?.id);
    const left = Date.parse(after?.expiresAt ?? '') - Date.now();
    assert.ok(left > 3500_000 && left <= 3600_000, `the old key works ${left} ms more`);
    // The old key still opens relays during the grace.
    const model = (await stack.store.listModels(old.orgId)).find((m) => m.name === MODEL);
    const relay = new TestClient(stack.relayUrl(model?.id), { headers: { 'X-API-Key': oldKey } });
    await relay.confirmed();
    relay.socket.close();
    await relay.closed;
  });

  it('renames an organization, and deletes another after saying what goes with it; its relays close with 4401', async () => {
    await goTo(page, 'Organizations');
    await renameOrganization(page, ORG, RENAMED);
    assert.ok((await stack.store.listOrganizations()).some((o) => o.name === RENAMED));
    await createOrganization(page, 'Short-lived');
    const org = (await stack.store.listOrganizations()).find((o) => o.name === 'Short-lived');
    assert.ok(org);
    await stack.store.setSubscription(org.id, { status: 'active' });
    const key = await stack.store.createApiKey(org.id);
    const model = await stack.store.createModel(org.id, { name: 'Doomed model', wsUrl: stack.sim.wsUrl(24), wsToken: stack.sim.issueToken({ userId: USER_ID }) });
    const client = new TestClient(stack.relayUrl(model.id), { headers: { 'X-API-Key': key.key } });
    await client.confirmed();
    const question = await askToDeleteOrganization(page, 'Short-lived');
    await question.getByText('Delete Short-lived with 1 API key, 1 model and its subscription? Its live relays close (4401).', { exact: false }).waitFor();
    await question.getByRole('button', { name: 'Cancel' }).click();
    assert.ok(await stack.store.getOrganization(org.id), 'cancel keeps it');
    await (await askToDeleteOrganization(page, 'Short-lived')).getByRole('button', { name: 'Yes, delete' }).click();
    await page.locator('tr', { has: page.getByText('Short-lived', { exact: true }) }).waitFor({ state: 'detached' });
    assert.equal(await stack.store.getOrganization(org.id), undefined);
    assert.equal((await client.closed).code, 4401);
  });

  it('shows the operator trail: who did what, filtered by action and actor, names kept after deletion', async () => {
    await goTo(page, 'Audit trail');
    // The navigation keeps the organization chosen on earlier pages: look at all of them.
    await filterAudit(page, 'org', 'All organizations');
    const rows = page.locator('tr[data-audit]');
    await rows.first().waitFor();
    const seqs = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-audit'))));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), 'newest first');
    const deleted = rows.filter({ hasText: 'organization.deleted' });
    await deleted.getByText('Short-lived').first().waitFor();
    await deleted.getByText('Dashboard').waitFor();
    await deleted.getByText(/^session [0-9a-f]{12} from 127\.0\.0\.1$/).waitFor();
    await rows.filter({ hasText: 'organization.renamed' }).getByText(RENAMED).first().waitFor();

    await filterAudit(page, 'action', '— rotated');
    await page.waitForFunction(() => {
      const trs = (globalThis as unknown as InPage).document.querySelectorAll('tr[data-audit]');
      return trs.length === 1;
    });
    await rows.first().getByText('key.rotated').waitFor();
    await rows.first().getByText('rotating (', { exact: false }).first().waitFor();
    // The relay the operator closed on the Live relays page is there too, under its own action.
    await filterAudit(page, 'action', 'Relay closed');
    await rows.filter({ hasText: 'relay.closed' }).getByText('Model A').waitFor();
    // Nothing here was done through the CLI.
    await filterAudit(page, 'action', 'All actions');
    await filterAudit(page, 'actor', 'CLI (local)');
    await page.getByText('No operator action matches these filters.').waitFor();
    await filterAudit(page, 'actor', 'Anyone');
    await rows.first().waitFor();
  });

  it('the model lifecycle view lists every model\'s events, newest first', async () => {
    await page.getByRole('navigation', { name: 'Trails' }).getByRole('link', { name: 'Model lifecycle' }).click();
    const rows = page.locator('tr[data-seq]');
    await rows.first().waitFor();
    const seqs = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-seq'))));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a));
    await rows.filter({ hasText: MODEL }).getByText('created').waitFor();
    await rows.filter({ hasText: 'organization "Short-lived" deleted' }).getByText('removed').waitFor();
    await page.getByRole('navigation', { name: 'Trails' }).getByRole('link', { name: 'Operator actions' }).click();
    await page.locator('tr[data-audit]').first().waitFor();
  });

  it('a cookie-authenticated change without the CSRF header is refused (403 CSRF)', async () => {
    const answer = await page.evaluate(async () => {
      const res = await fetch('/admin/v1/organizations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"forged"}' });
      return { status: res.status, body: (await res.json()) as { code: string } };
    });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.code, 'CSRF');
  });

  it('keeps the admin token out of storage, URLs and the page', async () => {
    const found = await page.evaluate((token) => {
      const g = globalThis as unknown as InPage;
      const storage = [g.localStorage, g.sessionStorage].flatMap((s) => Object.keys(s).map((k) => `${k}=${s.getItem(k) ?? ''}`));
      return {
        storage,
        url: g.location.href.includes(token),
        html: g.document.documentElement.outerHTML.includes(token),
        entries: performance.getEntriesByType('resource').some((e) => e.name.includes(token)),
      };
    }, ADMIN_TOKEN);
    assert.deepEqual(found, { storage: [], url: false, html: false, entries: false });
    assert.ok(!stack.logs.lines.join('\n').includes(ADMIN_TOKEN));
  });

  it('the Overview charts relays, session clients, events, outcomes and the session model; no webhook delivery made up', async () => {
    overviewClients.push(...(await overviewTraffic(stack)));
    await goTo(page, 'Overview');
    assert.ok((await overviewSeriesPeak(page, 'relays', 2)) >= 2);
    assert.ok((await overviewSeriesPeak(page, 'sessionClients', 2)) >= 2);
    assert.ok((await overviewSeriesPeak(page, 'eventsPerMinute')) > 0);
    const charts = page.locator('figure.chart svg');
    assert.ok((await charts.count()) >= 4, 'three line charts and the outcomes bar chart');
    assert.ok((await page.locator('figure.chart polyline, figure.chart circle').count()) >= 5, 'a line (or a point) per series');
    const refused = page.getByRole('region', { name: 'Connection attempts by outcome' }).locator('g[data-bar="INVALID_API_KEY"]');
    await refused.waitFor({ timeout: 15_000 });
    // The earlier steps' revoked and deleted keys were refused too, in the same hour.
    assert.ok(Number(await refused.getAttribute('data-count')) >= 1);
    const row = page.locator(`tr[data-session-model="${stack.modelId}"]`);
    await row.getByText('connected', { exact: true }).first().waitFor();
    await row.locator('td[data-label="Clients"]', { hasText: '2' }).waitFor();
    await page.getByRole('region', { name: 'Webhook deliveries' }).getByText('No webhook deliveries yet.').waitFor();
  });

  it('fits a phone (375×812) on every page without horizontal scrolling', async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    for (const title of ['Overview', 'Organizations', 'API keys', 'Models', 'Live relays', 'Audit trail', 'Playground'] as const) {
      await goTo(page, title);
      await page.locator('.card').first().waitFor();
      const width = await page.evaluate(() => {
        const g = globalThis as unknown as InPage;
        return { scroll: g.document.documentElement.scrollWidth, view: g.innerWidth };
      });
      assert.ok(width.scroll <= width.view, `${title}: ${width.scroll} px wide in a ${width.view} px viewport`);
    }
  });

  it('left no uncaught error in the page', async () => {
    assert.deepEqual(await watched.problems(), []);
  });
});
