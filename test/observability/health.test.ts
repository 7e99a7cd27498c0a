/**
 * GET /healthz and /readyz (issue 4 item 3): liveness answers whenever HTTP does; readiness
 * follows the store (503 once it is closed or too slow) and the drain (503 "draining").
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/server.js';
import { createHealthRoutes, READY_TIMEOUT_MS } from '../../src/observability/health.js';
import { TestClient } from '../helpers.js';
import { startObservedStack, type HttpAnswer, type ObservedStack } from './harness.js';

describe('health on the gateway port', () => {
  let stack: ObservedStack;
  before(async () => {
    stack = await startObservedStack();
  });
  after(async () => {
    await stack.close();
  });

  it('/healthz answers 200 {"status":"ok"}; HEAD without a body; other methods 405', async () => {
    const get = await stack.request('/healthz');
    assert.equal(get.status, 200);
    assert.match(get.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(get.headers['cache-control'], 'no-store');
    assert.deepEqual(JSON.parse(get.body), { status: 'ok' });
    const head = await stack.request('/healthz', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    for (const path of ['/healthz', '/readyz']) {
      const post = await stack.request(path, 'POST');
      assert.equal(post.status, 405);
      assert.equal(post.headers.allow, 'GET, HEAD');
    }
  });

  it('other paths still get the gateway\'s own answers', async () => {
    assert.equal((await stack.request('/healthz/x')).status, 404);
    assert.equal((await stack.request(`/api/models/${stack.modelId}/ws`)).status, 426);
  });

  it('/readyz answers 200 {"status":"ready"} while the store answers', async () => {
    const res = await stack.request('/readyz?probe=1');
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { status: 'ready' });
    const head = await stack.request('/readyz', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('/readyz answers 503 "store unreachable" once the store is closed; /healthz stays 200', async () => {
    await stack.store.close();
    const res = await stack.request('/readyz');
    assert.equal(res.status, 503);
    const body = JSON.parse(res.body) as { status: string; reason: string };
    assert.equal(body.status, 'not ready');
    assert.match(body.reason, /^store unreachable: /);
    assert.equal((await stack.request('/readyz', 'HEAD')).status, 503);
    assert.equal((await stack.request('/healthz')).status, 200);
  });
});

describe('readiness during a drain', () => {
  let stack: ObservedStack;
  before(async () => {
    stack = await startObservedStack();
  });
  after(async () => {
    await stack.close();
  });

  it('/readyz answers 503 "draining" once gateway.close() has begun', async () => {
    // The gateway stops accepting connections as the drain begins, so the probe goes to the
    // same route served from a second listener (as an operator could, on an admin port).
    const side = await serve(createHealthRoutes(stack.gateway));
    try {
      assert.equal((await side.request('/readyz')).status, 200);
      const client = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': stack.apiKey } });
      await client.confirmed();
      const closing = stack.gateway.close();
      const res = await side.request('/readyz');
      assert.equal(res.status, 503);
      assert.deepEqual(JSON.parse(res.body), { status: 'not ready', reason: 'draining' });
      assert.equal((await client.closed).code, 1012);
      await closing;
      assert.equal((await side.request('/healthz')).status, 200, 'liveness does not depend on the gateway');
    } finally {
      await side.close();
    }
  });
});

describe('readiness with a store that does not answer', () => {
  it(`answers 503 after ${READY_TIMEOUT_MS} ms, and concurrent probes share one query`, async () => {
    let queries = 0;
    const hung = {
      isDraining: false,
      coordinationAvailable: true,
      store: {
        latestChangeSeq: () => {
          queries++;
          return new Promise<number>(() => {});
        },
      },
    } as unknown as Gateway; // only the members the route reads
    const side = await serve(createHealthRoutes(hung));
    try {
      const started = Date.now();
      const answers = await Promise.all([side.request('/readyz'), side.request('/readyz')]);
      const elapsed = Date.now() - started;
      for (const res of answers) {
        assert.equal(res.status, 503);
        assert.deepEqual(JSON.parse(res.body), { status: 'not ready', reason: `store unreachable: no answer within ${READY_TIMEOUT_MS} ms` });
      }
      assert.equal(queries, 1);
      assert.ok(elapsed >= READY_TIMEOUT_MS - 50 && elapsed < READY_TIMEOUT_MS + 1000, `answered after ${elapsed} ms`);
    } finally {
      await side.close();
    }
  });
});

/** A bare HTTP server around one route (404 for the rest). */
async function serve(route: (req: http.IncomingMessage, res: http.ServerResponse) => boolean) {
  const server = http.createServer((req, res) => {
    if (!route(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    request(path: string): Promise<HttpAnswer> {
      return new Promise((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          })
          .on('error', reject);
      });
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
