/**
 * The package as a customer installs it: built by its own tsconfig (JS + .d.ts), laid out in a
 * node_modules of a scratch folder, resolved through its `exports` (node → ws entry, browser →
 * global WebSocket entry), a browser build that imports nothing from Node, and the
 * examples/print-events app run against the real gateway for a few events.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MODEL_USER_ID, waitFor } from '../helpers.js';
import { startSdkStack, type SdkStack } from './sdk-harness.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const PACKAGE = join(REPO, 'packages', 'client');
const EXAMPLE = join(REPO, 'examples', 'print-events', 'print-events.mjs');

/** Relative imports of an ES module's text, and every other specifier it imports. */
function importsOf(code: string): string[] {
  const specifiers: string[] = [];
  const patterns = [/\bimport\s[^'"]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bexport\s[^'"]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const pattern of patterns) for (const m of code.matchAll(pattern)) specifiers.push(m[1] as string);
  return specifiers;
}

describe('the @ofgw/client package', () => {
  let scratch: string;
  let dist: string;

  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'ofgw-client-pkg-'));
    const installed = join(scratch, 'node_modules', '@ofgw', 'client');
    dist = join(installed, 'dist');
    mkdirSync(installed, { recursive: true });
    copyFileSync(join(PACKAGE, 'package.json'), join(installed, 'package.json'));
    const tsc = spawnSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(PACKAGE, 'tsconfig.json'), '--outDir', dist], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(tsc.status, 0, `the package's own build failed:\n${tsc.stdout}${tsc.stderr}`);
    // Its one dependency, as npm would install it beside it.
    symlinkSync(join(REPO, 'node_modules', 'ws'), join(scratch, 'node_modules', 'ws'), 'dir');
    copyFileSync(EXAMPLE, join(scratch, 'print-events.mjs'));
  });
  after(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  it('builds JS and type declarations for both entries', () => {
    for (const entry of ['browser', 'node', 'client', 'errors', 'reconnect', 'onlyfans-events']) {
      assert.ok(existsSync(join(dist, `${entry}.js`)), `${entry}.js`);
      assert.ok(existsSync(join(dist, `${entry}.d.ts`)), `${entry}.d.ts`);
    }
    const pkg = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')) as { type: string; exports: Record<string, unknown> };
    assert.equal(pkg.type, 'module');
    const targets = JSON.stringify(pkg.exports).match(/\.\/dist\/[a-z-]+\.(d\.ts|js)/g) ?? [];
    for (const target of targets) assert.ok(existsSync(join(dist, '..', target)), `exports points at ${target}, which the build emits`);
  });

  it('exports: Node resolves the ws entry, a browser bundler the WebSocket entry', () => {
    const resolveWith = (conditions: string[]) => {
      const r = spawnSync(process.execPath, [...conditions.map((c) => `--conditions=${c}`), '--input-type=module', '-e', "console.log(import.meta.resolve('@ofgw/client'))"], { cwd: scratch, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      return fileURLToPath(r.stdout.trim());
    };
    assert.equal(resolveWith([]), join(dist, 'node.js'));
    assert.equal(resolveWith(['browser']), join(dist, 'browser.js'));
  });

  it('the browser build imports nothing from Node (no node:*, no ws, no Buffer, process or require)', () => {
    const seen = new Set<string>();
    const queue = [join(dist, 'browser.js')];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      // Without comments: doc examples name the package and Node globals.
      const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      for (const specifier of importsOf(code)) {
        assert.ok(specifier.startsWith('./') || specifier.startsWith('../'), `${file} imports "${specifier}": the browser build may only import its own files`);
        queue.push(resolve(dirname(file), specifier));
      }
      assert.doesNotMatch(code, /\bBuffer\b|\bprocess\.|\brequire\(/, `${file} uses a Node global`);
    }
    assert.ok(seen.has(join(dist, 'client.js')) && !seen.has(join(dist, 'node.js')), `the graph: ${[...seen].join(', ')}`);
  });

  describe('examples/print-events against the real gateway', () => {
    let stack: SdkStack;
    before(async () => {
      stack = await startSdkStack();
    });
    after(async () => {
      await stack.close();
    });

    function run(args: string[], apiKey: string, env: Record<string, string> = { OFGW_GATEWAY_URL: stack.baseUrl }) {
      const child = spawn(process.execPath, ['print-events.mjs', ...args], {
        cwd: scratch,
        env: { PATH: process.env.PATH ?? '', OFGW_API_KEY: apiKey, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out = { stdout: '', stderr: '' };
      child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
      const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
      const deadline = setTimeout(() => child.kill('SIGKILL'), 20_000);
      void exited.then(() => clearTimeout(deadline));
      return { child, out, exited };
    }

    it('prints --count events as JSON lines, then exits 0', async () => {
      const { out, exited } = run([stack.modelId, '--count', '3'], stack.apiKey);
      await waitFor(() => out.stderr.includes('connected to model'), 10_000, `the example to connect (stderr: ${out.stderr})`);
      const frames = [{ typing: { id: 1 } }, { api2_chat_message: { id: 2, text: '<p>hi</p>' } }, { some_new_key: true }, { typing: { id: 4 } }];
      for (const frame of frames) stack.sim.push(MODEL_USER_ID, frame);
      assert.equal(await exited, 0, out.stderr);
      const lines = out.stdout.trim().split('\n').map((l) => JSON.parse(l) as { keys: string[]; frame: unknown });
      assert.deepEqual(lines.map((l) => l.frame), frames.slice(0, 3));
      assert.deepEqual(lines[1]?.keys, ['api2_chat_message']);
      assert.ok(!(out.stdout + out.stderr).includes(stack.apiKey), 'the key is not printed');
    });

    it('prints its reconnecting lines while the gateway is unreachable, then connects when it appears (it printed nothing until connected)', async () => {
      await stack.stopGateway();
      const { child, out, exited } = run([stack.modelId], stack.apiKey);
      try {
        await waitFor(() => /^reconnecting in \d+ ms \(attempt 1\) after CLOSED \(close 1006\)/m.test(out.stderr), 10_000, `a reconnecting line (stderr: ${out.stderr})`);
        assert.ok(!out.stderr.includes('connected to model'), 'not connected yet');
      } finally {
        await stack.startGateway();
      }
      await waitFor(() => out.stderr.includes(`connected to model ${stack.modelId}`), 40_000, `the connection once the gateway is up (stderr: ${out.stderr})`);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, out.stderr);
      assert.ok(!out.stderr.includes(stack.apiKey), 'the key is not printed');
    });

    it('OFGW_URL (the CLI\'s management API) is not taken for the gateway: exit 2 naming OFGW_GATEWAY_URL', async () => {
      const { out, exited } = run([stack.modelId], stack.apiKey, { OFGW_URL: stack.baseUrl });
      assert.equal(await exited, 2);
      assert.match(out.stderr, /^print-events: set OFGW_GATEWAY_URL to the gateway \(OFGW_URL is the ofgw CLI's management API URL, not read here\)$/m);
      const bad = run([stack.modelId], stack.apiKey, { OFGW_GATEWAY_URL: '127.0.0.1:8080' });
      assert.equal(await bad.exited, 2);
      assert.match(bad.out.stderr, /OFGW_GATEWAY_URL must be the gateway's ws:\/\/ or wss:\/\/ URL \(got "127\.0\.0\.1:8080"\)/);
    });

    it('a wrong key: exit 1 with the code, after one attempt', async () => {
      const { out, exited } = run([stack.modelId], 'ofgw_sk_wrong');
      assert.equal(await exited, 1);
      assert.match(out.stderr, /INVALID_API_KEY \(close 4401\)/);
      await waitFor(() => stack.attempts('INVALID_API_KEY') >= 1, 5000, 'the logged attempt');
      assert.equal(stack.attempts('INVALID_API_KEY'), 1);
    });
  });
});
