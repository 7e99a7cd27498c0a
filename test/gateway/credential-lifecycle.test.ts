/**
 * Credential lifecycle (issue 3, items 4 and 6): an expired JWT answers NO_WS_CREDENTIALS
 * without contacting OnlyFans; a token OnlyFans rejects is marked so later attempts answer
 * NO_WS_CREDENTIALS at once; new credentials clear that; an operator's refresh endpoint
 * (HMAC-signed, one call per model in flight, bounded in time) supplies fresh credentials;
 * every step lands in the model's audit trail.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startStack, TestClient, waitFor, type Stack } from '../helpers.js';

interface RefreshCall {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** The operator's login service, scripted per test. */
class RefreshService {
  readonly calls: RefreshCall[] = [];
  respond: (call: RefreshCall, res: http.ServerResponse) => void = (_c, res) => res.writeHead(500).end();
  private readonly server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const call = { headers: req.headers, body };
      this.calls.push(call);
      this.respond(call, res);
    });
  });
  private readonly hung: http.ServerResponse[] = [];

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/refresh`;
  }

  json(status: number, payload: unknown, delayMs = 0): void {
    this.respond = (_c, res) => {
      setTimeout(() => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload)), delayMs);
    };
  }

  hang(): void {
    this.respond = (_c, res) => void this.hung.push(res);
  }

  async close(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

const SECRET = 'refresh-signing-secret';

async function attempt(stack: Stack, modelId: string): Promise<Record<string, unknown>> {
  const client = new TestClient(stack.relayUrl(modelId), { headers: { 'X-API-Key': stack.apiKey } });
  const frame = (await client.next()).json();
  if (frame.connected === true) client.socket.close();
  await client.closed;
  return frame;
}

describe('credential lifecycle without a refresh endpoint', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  it('a rejected token is marked, answered at once afterwards, and cleared by new credentials', async () => {
    const userId = 3101;
    const token = stack.sim.issueToken({ userId });
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: token });
    stack.sim.setFault({ kind: 'reject-token' }, { userId });
    try {
      const first = await attempt(stack, model.id);
      assert.equal(first.code, 'WS_CONNECT_ERROR');
      const marked = await stack.store.getModel(model.id);
      assert.ok(marked?.credentialsRejectedAt, 'the credentials are marked rejected');
      assert.match(marked?.credentialsRejectedReason ?? '', /rejected the model's token/);

      const handshakes = stack.sim.handshakes.length;
      const second = await attempt(stack, model.id);
      assert.equal(second.code, 'NO_WS_CREDENTIALS');
      assert.match(second.error as string, /OnlyFans rejected the model's token/);
      assert.equal(stack.sim.handshakes.length, handshakes, 'OnlyFans was not contacted again');
    } finally {
      stack.sim.clearFaults();
    }
    await stack.store.updateModel(model.id, { wsToken: stack.sim.issueToken({ userId }) });
    assert.equal((await stack.store.getModel(model.id))?.credentialsRejectedAt, null);
    assert.equal((await attempt(stack, model.id)).connected, true);

    const kinds = (await stack.store.listModelEvents(model.id)).map((e) => e.kind);
    assert.deepEqual(kinds.slice(0, 3), ['credentials_updated', 'credentials_rejected', 'created']);
    // Each change is logged by the running gateway, whichever process made it.
    const logged = (): unknown[] =>
      stack.logs.records().filter((r) => r.msg === 'model lifecycle event' && r.modelId === model.id).map((r) => r.event);
    await waitFor(() => logged().length >= 3, 5000, 'three lifecycle log lines');
    assert.deepEqual(logged(), ['created', 'credentials_rejected', 'credentials_updated']);
  });

  it('an expired JWT answers NO_WS_CREDENTIALS without contacting OnlyFans', async () => {
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: stack.sim.issueToken({ userId: 3102, ttlSeconds: -1 }) });
    const handshakes = stack.sim.handshakes.length;
    const frame = await attempt(stack, model.id);
    assert.equal(frame.code, 'NO_WS_CREDENTIALS');
    assert.match(frame.error as string, /expired at/);
    assert.equal(stack.sim.handshakes.length, handshakes);
  });
});

describe('credential lifecycle with a refresh endpoint', () => {
  let stack: Stack;
  let service: RefreshService;
  before(async () => {
    service = new RefreshService();
    const url = await service.start();
    stack = await startStack({ config: { credentialRefreshUrl: url, credentialRefreshSecret: SECRET, credentialRefreshTimeoutMs: 400 } });
  });
  after(async () => {
    await stack.close();
    await service.close();
  });

  it('refreshes an expired token with a signed request, once for many waiting clients', async () => {
    const userId = 3201;
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: stack.sim.issueToken({ userId, ttlSeconds: -1 }) });
    const fresh = stack.sim.issueToken({ userId });
    service.calls.length = 0;
    service.json(200, { wsUrl: stack.sim.wsUrl(31), wsToken: fresh }, 150);
    const frames = await Promise.all(Array.from({ length: 5 }, () => attempt(stack, model.id)));
    for (const f of frames) assert.equal(f.connected, true);
    assert.equal(service.calls.length, 1, 'one refresh call in flight per model');

    const call = service.calls[0]!;
    assert.deepEqual(JSON.parse(call.body), { modelId: model.id, orgId: stack.orgId, reason: 'expired' });
    const ts = call.headers['x-ofgw-timestamp'] as string;
    const expected = createHmac('sha256', SECRET).update(`${ts}.${call.body}`).digest('hex');
    assert.equal(call.headers['x-ofgw-signature'], `sha256=${expected}`);
    assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 60);

    const creds = await stack.store.getModelCredentials(model.id);
    assert.equal(creds?.wsToken, fresh);
    assert.equal(creds?.wsUrl, stack.sim.wsUrl(31));
    assert.equal((await stack.store.listModelEvents(model.id))[0]?.kind, 'credentials_refreshed');
  });

  it('refreshes after OnlyFans rejects the token and retries once', async () => {
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: stack.sim.issueToken({ userId: 3202 }) });
    stack.sim.setFault({ kind: 'reject-token' }, { userId: 3202 });
    service.calls.length = 0;
    service.json(200, { wsUrl: stack.sim.wsUrl(), wsToken: stack.sim.issueToken({ userId: 3203 }) });
    try {
      assert.equal((await attempt(stack, model.id)).connected, true);
    } finally {
      stack.sim.clearFaults();
    }
    assert.equal(service.calls.length, 1);
    assert.equal(JSON.parse(service.calls[0]!.body).reason, 'rejected');
    const kinds = (await stack.store.listModelEvents(model.id)).map((e) => e.kind);
    assert.deepEqual(kinds.slice(0, 2), ['credentials_refreshed', 'credentials_rejected']);
    assert.equal((await stack.store.getModel(model.id))?.credentialsRejectedAt, null);
  });

  const failures: [string, (s: RefreshService) => void, RegExp][] = [
    ['answers HTTP 500', (s) => s.json(500, { error: 'boom' }), /answered HTTP 500/],
    ['hangs', (s) => s.hang(), /did not answer within 400 ms/],
    ['answers non-JSON', (s) => (s.respond = (_c, res) => res.writeHead(200).end('<html>')), /other than JSON/],
    ['answers unusable credentials', (s) => s.json(200, { wsUrl: 'http://not-ws', wsToken: 'x' }), /unusable credentials: .*wsUrl/],
  ];
  for (const [name, script, message] of failures) {
    it(`a refresh endpoint that ${name}: NO_WS_CREDENTIALS, bounded, nothing secret`, async () => {
      const stale = stack.sim.issueToken({ userId: 3300, ttlSeconds: -1 });
      const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: stale });
      script(service);
      const started = Date.now();
      const frame = await attempt(stack, model.id);
      assert.equal(frame.code, 'NO_WS_CREDENTIALS');
      assert.match(frame.error as string, message);
      assert.ok(Date.now() - started < 3000);
      assert.ok(!JSON.stringify(frame).includes(stale));
      assert.ok(!stack.logs.lines.join('\n').includes(SECRET));
    });
  }

  it('remembers a failed refresh briefly instead of calling again for every reconnect', async () => {
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: stack.sim.issueToken({ userId: 3400, ttlSeconds: -1 }) });
    service.json(503, {});
    service.calls.length = 0;
    for (let i = 0; i < 3; i++) assert.equal((await attempt(stack, model.id)).code, 'NO_WS_CREDENTIALS');
    assert.equal(service.calls.length, 1);
  });
});
