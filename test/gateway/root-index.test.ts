/**
 * `GET /` (issue 13): it answered 404 JSON, so the dashboard was nowhere to be found. Now a
 * browser is sent to /dashboard when it is enabled, and everyone else gets an index of the
 * endpoints that, while the dashboard is off, says how to turn it on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRootIndex } from '../../src/gateway/root-index.js';
import { startStack, type Stack } from '../helpers.js';

const ADMIN_TOKEN = 'root-index-test-token-'.padEnd(40, 'x');
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

interface Index {
  relay: { path: string };
  health: { path: string };
  ready: { path: string };
  metrics: { path: string };
  dashboard: { path: string; enabled: boolean };
  admin: { path: string; enabled: boolean };
  enable?: string;
}

function get(stack: Stack, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${stack.gateway.address().port}${path}`, { redirect: 'manual', ...init });
}

describe('GET / with the dashboard off', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ routes: () => [createRootIndex({ adminToken: '' })] });
  });
  after(() => stack.close());

  it('answers an index of the endpoints that says how to enable the dashboard (it was a bare 404)', async () => {
    for (const accept of [BROWSER_ACCEPT, 'application/json']) {
      const res = await get(stack, '/', { headers: { accept } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const index = (await res.json()) as Index;
      assert.equal(index.relay.path, '/api/models/{model_id}/ws');
      assert.deepEqual([index.health.path, index.ready.path, index.metrics.path], ['/healthz', '/readyz', '/metrics']);
      assert.deepEqual(index.dashboard, { path: '/dashboard', enabled: false });
      assert.deepEqual(index.admin, { path: '/admin/v1', enabled: false });
      assert.match(index.enable ?? '', /set OFGW_ADMIN_TOKEN \(at least 32 characters/);
    }
  });

  it('answers HEAD without a body, refuses other methods with 405, and leaves other paths alone', async () => {
    const head = await get(stack, '/', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    const post = await get(stack, '/', { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    assert.equal(((await post.json()) as { code: string }).code, 'METHOD_NOT_ALLOWED');
    assert.equal((await get(stack, '/?from=bookmark')).status, 200, 'a query string is still /');
    assert.equal((await get(stack, '/nothing-here')).status, 404);
  });
});

describe('GET / with the dashboard on', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ routes: () => [createRootIndex({ adminToken: ADMIN_TOKEN })] });
  });
  after(() => stack.close());

  it('redirects a browser to /dashboard', async () => {
    const res = await get(stack, '/', { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/dashboard');
    assert.equal(res.headers.get('vary'), 'accept');
  });

  it('gives a script the index, with the dashboard and the management API enabled', async () => {
    const index = (await (await get(stack, '/', { headers: { accept: 'application/json' } })).json()) as Index;
    assert.deepEqual(index.dashboard, { path: '/dashboard', enabled: true });
    assert.deepEqual(index.admin, { path: '/admin/v1', enabled: true });
    assert.equal(index.enable, undefined);
  });
});
