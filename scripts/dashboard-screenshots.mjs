#!/usr/bin/env node
/**
 * Screenshots of the dashboard for docs/dashboard.md: starts a real gateway and simulator
 * (the test stack), walks the same flow as test/dashboard/dashboard.test.ts in headless
 * Chromium and writes PNGs to docs/dashboard/. Run with `npm run screenshots` (it builds
 * first). Needs /usr/bin/chromium.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../dist/test/browser/browser-harness.js';
import { TestClient } from '../dist/test/helpers.js';
import { ADMIN_TOKEN, overviewTraffic, startDashboardStack } from '../dist/test/dashboard/dashboard-helpers.js';
import {
  activate,
  addModel,
  askToDeleteOrganization,
  createKey,
  createOrganization,
  form,
  frameArrives,
  goTo,
  openPlayground,
  overviewSeriesPeak,
  pickOrganization,
  renameOrganization,
  rotateKey,
  signIn,
} from '../dist/test/dashboard/dashboard-flow.js';

const OUT = fileURLToPath(new URL('../docs/dashboard/', import.meta.url));
const ORG = 'Northwind Creators';
const USER_ID = 880011;

mkdirSync(OUT, { recursive: true });
const stack = await startDashboardStack();
const browser = await launchChromium();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.httpUrl });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const shot = async (name, options = {}) => {
    const path = join(OUT, `${name}.png`);
    await page.screenshot({ path, fullPage: true, ...options });
    console.log(`wrote docs/dashboard/${name}.png`);
  };

  await page.goto(`${stack.httpUrl}/dashboard`);
  await form(page, 'Sign in').waitFor();
  await shot('sign-in');
  await signIn(page, ADMIN_TOKEN);
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  await goTo(page, 'Organizations');

  await createOrganization(page, ORG);
  await activate(page, ORG, 'pro');
  await createOrganization(page, 'Trial');
  await renameOrganization(page, 'Trial', 'Trial Agency');
  await shot('organizations');

  await goTo(page, 'API keys');
  await pickOrganization(page, ORG);
  const crm = await createKey(page, 'crm');
  // Rotated before the playground key exists: the playground uses the tab's newest key.
  await rotateKey(page, (await stack.store.findApiKey(crm))?.id ?? '', 'works 24 more hours');
  await page.getByRole('button', { name: 'I have copied it' }).click();
  await createKey(page, 'playground');
  await shot('keys');

  await goTo(page, 'Models');
  const model = { name: 'Mia (simulated)', wsUrl: stack.sim.wsUrl(24), wsToken: stack.sim.issueToken({ userId: USER_ID }), userAgent: 'Mozilla/5.0 (X11; Linux x86_64) ofgw-docs' };
  const card = await addModel(page, model);
  await card.getByRole('button', { name: 'Disconnect' }).click();
  await card.getByRole('button', { name: 'Yes, disconnect' }).click();
  await card.getByRole('button', { name: 'Connect' }).click();
  await card.getByText('connected', { exact: true }).waitFor();
  await card.getByRole('button', { name: 'Lifecycle events' }).click();
  await card.getByRole('list', { name: 'Lifecycle events' }).waitFor();
  await shot('models');

  await goTo(page, 'Playground');
  await openPlayground(page, model.name);
  await frameArrives(page, '"connected":true');
  stack.sim.push(USER_ID, { api2_chat_message: { id: 9001, fromUser: { id: 12345678 }, text: 'Hi! Is the new set out yet?' } });
  await frameArrives(page, 'new set');
  stack.sim.push(USER_ID, { onlines: { count: 3 } });
  stack.sim.setOnline(['12345678']);
  await form(page, 'Send an action').getByRole('button', { name: 'Send' }).click();
  await frameArrives(page, '"online"');
  await shot('playground');

  const other = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': stack.apiKey } });
  await other.confirmed();
  await goTo(page, 'Live relays');
  await page.locator('tr[data-relay]').nth(1).waitFor();
  await shot('relays');
  other.socket.close();

  await goTo(page, 'API keys');
  const playgroundRow = page.locator('tr', { hasText: 'playground' });
  await playgroundRow.getByRole('button', { name: 'Revoke' }).click();
  await playgroundRow.getByRole('button', { name: 'Yes, revoke' }).click();
  await playgroundRow.getByText('revoked').waitFor();
  await goTo(page, 'Playground');
  await page.locator('.relay-status[data-status=closed]').waitFor();
  await shot('playground-closed-4401');

  await goTo(page, 'Organizations');
  await askToDeleteOrganization(page, 'Trial Agency');
  await shot('organizations-delete');
  await page.getByRole('button', { name: 'Yes, delete' }).click();
  await page.locator('tr', { has: page.getByText('Trial Agency', { exact: true }) }).waitFor({ state: 'detached' });

  await goTo(page, 'Audit trail');
  await page.locator('select[name=org]').selectOption('');
  await page.locator('tr[data-audit]', { hasText: 'organization.deleted' }).first().waitFor();
  await shot('audit');
  await page.getByRole('navigation', { name: 'Trails' }).getByRole('link', { name: 'Model lifecycle' }).click();
  await page.locator('tr[data-seq]', { hasText: 'Model A' }).first().waitFor();
  await shot('audit-lifecycle');

  // The Overview with traffic: the same steps as the browser test's.
  const clients = await overviewTraffic(stack);
  await goTo(page, 'Overview');
  for (const series of ['relays', 'sessionClients', 'eventsPerMinute']) await overviewSeriesPeak(page, series);
  await page.getByRole('region', { name: 'Connection attempts by outcome' }).locator('g[data-bar]').first().waitFor();
  await shot('overview');

  await page.setViewportSize({ width: 375, height: 812 });
  await goTo(page, 'Overview');
  await overviewSeriesPeak(page, 'relays');
  await shot('phone-overview', { fullPage: false });
  for (const c of clients) c.socket.terminate();
  await goTo(page, 'Models');
  await page.locator('article.model').first().waitFor();
  await shot('phone-models', { fullPage: false });
  await goTo(page, 'API keys');
  await shot('phone-keys', { fullPage: false });
  await context.close();
} finally {
  await browser.close();
  await stack.close();
}
