/**
 * The operator's steps in the dashboard, driven in Chromium: shared by the browser test and
 * the screenshot script (scripts/dashboard-screenshots.mjs), so both walk the same flow.
 */
import type { Locator, Page } from 'playwright-core';

/** Goes to a page through the navigation (keeps the tab's memory and the playground). */
export async function goTo(page: Page, title: 'Overview' | 'Organizations' | 'API keys' | 'Models' | 'Webhooks' | 'Live relays' | 'Audit trail' | 'Playground'): Promise<void> {
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: title }).click();
  await page.getByRole('heading', { level: 1, name: title }).waitFor();
}

export function form(page: Page, name: string): Locator {
  return page.getByRole('form', { name });
}

export async function signIn(page: Page, token: string): Promise<void> {
  const signInForm = form(page, 'Sign in');
  await signInForm.getByLabel('Admin token').fill(token);
  await signInForm.getByRole('button', { name: 'Sign in' }).click();
}

/** Creates an organization on the Organizations page; returns its row. */
export async function createOrganization(page: Page, name: string): Promise<Locator> {
  const create = form(page, 'New organization');
  await create.getByLabel('Name').fill(name);
  await create.getByRole('button', { name: 'Create organization' }).click();
  const row = page.locator('tr', { has: page.getByText(name, { exact: true }) });
  await row.waitFor();
  return row;
}

/** Activates the organization's subscription with a plan, from its row. */
export async function activate(page: Page, orgName: string, plan: string): Promise<void> {
  const subscription = form(page, `Subscription of ${orgName}`);
  await subscription.getByLabel('Plan').fill(plan);
  await subscription.getByRole('button', { name: /Activate|Change plan/ }).click();
  await page.locator('tr', { has: page.getByText(orgName, { exact: true }) }).getByText('active', { exact: true }).waitFor();
}

/** Picks the organization in the page's select. */
export async function pickOrganization(page: Page, orgName: string): Promise<void> {
  await page.locator('select[name=org]').selectOption({ label: orgName });
}

/** Creates a key on the Keys page; returns the key as the page shows it (once). */
export async function createKey(page: Page, name: string): Promise<string> {
  const create = form(page, 'New key');
  await create.getByLabel('Name').fill(name);
  await create.getByRole('button', { name: 'Create key' }).click();
  const shown = page.getByLabel('The new API key');
  await shown.waitFor();
  return shown.inputValue();
}

export interface ModelInput {
  name: string;
  wsUrl: string;
  wsToken: string;
  userAgent?: string;
}

/** Fills the "Add a model" form (without submitting). */
export async function fillModel(page: Page, model: ModelInput): Promise<Locator> {
  const add = form(page, 'Add a model');
  await add.getByLabel('Name', { exact: true }).fill(model.name);
  await add.getByLabel('WebSocket URL').fill(model.wsUrl);
  await add.getByLabel('WebSocket token').fill(model.wsToken);
  if (model.userAgent) await add.getByLabel('User-Agent').fill(model.userAgent);
  return add;
}

/** Adds a model on the Models page; returns its card. */
export async function addModel(page: Page, model: ModelInput): Promise<Locator> {
  const add = await fillModel(page, model);
  await add.getByRole('button', { name: 'Add model' }).click();
  const card = page.getByRole('article', { name: `Model ${model.name}` });
  await card.waitFor();
  return card;
}

/**
 * Switches a model's delivery with the toggle on its card and waits until the card shows the
 * new mode (pressed), as the API answered it.
 */
export async function switchDelivery(card: Locator, mode: 'relay' | 'session'): Promise<void> {
  const toggle = card.getByRole('group', { name: 'Delivery' });
  await toggle.getByRole('button', { name: mode, exact: true }).click();
  await card.locator(`[role=group][data-delivery=${mode}]`).waitFor();
  await toggle.locator('button[aria-pressed=true]', { hasText: mode }).waitFor();
}

/** Opens the playground's relay for a model with the key chosen by default (the tab's newest). */
export async function openPlayground(page: Page, modelName: string): Promise<void> {
  const open = form(page, 'Open a relay');
  await open.locator('select[name=model]').selectOption({ label: `${modelName} (connected)` });
  await open.getByRole('button', { name: 'Open relay' }).click();
  try {
    await page.locator('.relay-status[data-status=open]').waitFor();
  } catch (err) {
    // Say what the page shows instead (the status, a form error, the frames), not only "timeout".
    const shown = async (selector: string): Promise<string[]> => page.locator(selector).allTextContents().catch(() => []);
    const status = await shown('.relay-status');
    const errors = await shown('[role=alert]');
    const frames = await shown('li.frame');
    throw new Error(`the playground relay did not open: status ${JSON.stringify(status)}, alerts ${JSON.stringify(errors)}, frames ${JSON.stringify(frames.slice(0, 5))}`, { cause: err });
  }
}

/** Waits until a received frame contains `text`. */
export async function frameArrives(page: Page, text: string): Promise<void> {
  await page.locator('li.frame[data-direction=in]', { hasText: text }).first().waitFor();
}

/** Renames an organization from its row on the Organizations page. */
export async function renameOrganization(page: Page, from: string, to: string): Promise<void> {
  const row = page.locator('tr', { has: page.getByText(from, { exact: true }) });
  await row.getByRole('button', { name: 'Rename' }).click();
  const rename = form(page, `Rename ${from}`);
  await rename.getByLabel('New name').fill(to);
  await rename.getByRole('button', { name: 'Save' }).click();
  await page.locator('tr', { has: page.getByText(to, { exact: true }) }).waitFor();
}

/** Asks to delete an organization from its row; returns the confirmation's question (not yet confirmed). */
export async function askToDeleteOrganization(page: Page, name: string): Promise<Locator> {
  const row = page.locator('tr', { has: page.getByText(name, { exact: true }) });
  await row.getByRole('button', { name: 'Delete' }).click();
  const question = row.getByRole('group', { name: `Delete ${name}?` });
  await question.waitFor();
  return question;
}

/** Rotates a key from its row on the Keys page with a grace choice; returns the new key as shown (once). */
export async function rotateKey(page: Page, keyId: string, grace: string): Promise<string> {
  // A key shown earlier goes first, so the one read below is the new one.
  const earlier = page.getByRole('button', { name: 'I have copied it' });
  if (await earlier.isVisible()) await earlier.click();
  const row = page.locator(`tr[data-key="${keyId}"]`);
  await row.getByRole('button', { name: 'Rotate' }).click();
  await row.getByLabel('The old key').selectOption({ label: grace });
  await row.getByRole('button', { name: 'Yes, rotate' }).click();
  const shown = page.getByLabel('The new API key');
  await shown.waitFor();
  return shown.inputValue();
}

/** Sets one of the audit page's filters to the choice labelled `label`. */
export async function filterAudit(page: Page, filter: 'org' | 'action' | 'actor', label: string): Promise<void> {
  await page.locator(`select[name=${filter}]`).selectOption({ label });
}

/**
 * Waits until the Overview's line for `series` (e.g. "relays") has reached a maximum of at least
 * `atLeast`; returns it. An earlier step's traffic may already have drawn a smaller maximum, so
 * waiting for any non-zero one would read the chart before the newest sample is on it.
 */
export async function overviewSeriesPeak(page: Page, series: string, atLeast = 1): Promise<number> {
  const item = page.locator(`li[data-series="${series}"]`);
  await page.waitForFunction(
    ([name, least]) => {
      const li = (globalThis as unknown as { document: { querySelector(s: string): { getAttribute(a: string): string | null } | null } })
        .document.querySelector(`li[data-series="${name}"]`);
      return Number(li?.getAttribute('data-max') ?? 0) >= least;
    },
    [series, atLeast] as const,
    { timeout: 15_000 },
  );
  return Number(await item.getAttribute('data-max'));
}
