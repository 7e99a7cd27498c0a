/**
 * Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) and a static
 * HTTP server on 127.0.0.1 that serves the test pages and the compiled browser SDK. Without
 * Chromium the browser suites are skipped, except under CI=true, where they fail.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** `describe` options: skip the suite without Chromium, unless CI=true (then it runs and fails). */
export function browserSuiteOptions(): { skip?: string } {
  if (existsSync(CHROMIUM) || process.env.CI === 'true') return {};
  return { skip: `${CHROMIUM} is missing (apt-get install chromium); under CI=true this fails instead` };
}

/** Launches Chromium; a clear error when it is missing (the CI case). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium package`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The repository root, from this file's place in the build (`<outDir>/test/browser/`). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The browser SDK as the root build compiled it (the same sources as the package's dist). */
const SDK_DIR = fileURLToPath(new URL('../../packages/client/src/', import.meta.url));
const FIXTURES = join(REPO_ROOT, 'test', 'browser', 'fixtures');

const PAGES: Record<string, string> = {
  '/': '<!doctype html><meta charset="utf-8"><title>ofgw contract snippets</title><p>snippets</p>',
  '/sdk.html': '<!doctype html><meta charset="utf-8"><title>ofgw SDK</title><script type="module" src="/sdk-page.js"></script>',
  '/sse.html': '<!doctype html><meta charset="utf-8"><title>ofgw SSE</title><script type="module" src="/sse-page.js"></script>',
};

export interface StaticServer {
  origin: string;
  close(): Promise<void>;
}

/** Serves the pages, their scripts (`/<name>-page.js`, the fixtures) and `/sdk/*.js` (the compiled SDK). */
export async function startStaticServer(): Promise<StaticServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const page = PAGES[path];
    if (page !== undefined) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return void res.end(page);
    }
    let file: string | undefined;
    const fixture = /^\/([a-z]+-page\.js)$/.exec(path);
    if (fixture) file = join(FIXTURES, fixture[1] as string);
    const sdk = /^\/sdk\/([a-z-]+\.js)$/.exec(path);
    if (sdk) file = join(SDK_DIR, sdk[1] as string);
    if (file && existsSync(file)) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
      return void res.end(readFileSync(file));
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end(`not found: ${path}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A fresh page that records console output, uncaught errors and unhandled rejections. */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** Every console.log/error call: its level and its arguments (objects as JSON). */
  consoleCalls(): Promise<ConsoleCall[]>;
  /** Uncaught exceptions (`pageerror`) and unhandled rejections (`unhandledrejection`). */
  problems(): Promise<string[]>;
  close(): Promise<void>;
}

export interface ConsoleCall {
  level: 'log' | 'error';
  args: unknown[];
}

/**
 * Records console calls in the page itself (values, not text renderings), before any page
 * script runs; big values are cut to keep floods cheap.
 */
const PAGE_INSTRUMENTATION = `
  window.__console = [];
  window.__problems = [];
  for (const level of ['log', 'error']) {
    const original = console[level].bind(console);
    console[level] = (...args) => {
      window.__console.push({ level, args: args.map((a) => {
        if (typeof a !== 'object' || a === null) return typeof a === 'string' && a.length > 2000 ? a.slice(0, 2000) : a;
        const json = JSON.stringify(a);
        return json.length > 2000 ? { truncated: json.slice(0, 2000) } : JSON.parse(json);
      }) });
      if (window.__console.length > 5000) window.__console.splice(0, 1000);
      original(...args);
    };
  }
  window.addEventListener('unhandledrejection', (e) => window.__problems.push('unhandledrejection: ' + (e.reason && e.reason.stack || String(e.reason))));
`;

export async function openPage(browser: Browser, url: string): Promise<WatchedPage> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(`pageerror: ${error.stack ?? error.message}`));
  await page.addInitScript({ content: PAGE_INSTRUMENTATION });
  await page.goto(url);
  return {
    page,
    context,
    consoleCalls: () => page.evaluate('window.__console') as Promise<ConsoleCall[]>,
    problems: async () => [...pageErrors, ...((await page.evaluate('window.__problems')) as string[])],
    close: () => context.close(),
  };
}
