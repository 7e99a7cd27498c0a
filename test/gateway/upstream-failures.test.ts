/**
 * Check 7 and the upstream leg (contract §7): every way opening the OnlyFans socket can fail
 * ends as WS_CONNECT_ERROR with a text that says which, bounded in time, with no secret;
 * a first frame in JSON is accepted from text or binary frames.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { freePort, startStack, TestClient, waitFor, type Stack } from '../helpers.js';

describe('upstream failures', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ config: { upstreamAuthTimeoutMs: 300, upstreamConnectTimeoutMs: 500 } });
  });
  after(async () => {
    await stack.close();
  });

  /** Adds a model of the stack's organization pointing at `wsUrl` and opens a relay to it. */
  async function attempt(wsUrl: string, wsToken = stack.wsToken): Promise<{ frame: Record<string, unknown>; code: number }> {
    const model = await stack.store.createModel(stack.orgId, { wsUrl, wsToken, cookie: 'sess=SECRETCOOKIE' });
    const client = new TestClient(stack.relayUrl(model.id), { headers: { 'X-API-Key': stack.apiKey } });
    const frame = (await client.next()).json();
    const { code } = await client.closed;
    assert.equal(frame.code, 'WS_CONNECT_ERROR');
    assert.equal(code, 4502);
    const text = JSON.stringify(frame);
    assert.ok(!text.includes(wsToken) && !text.includes('SECRETCOOKIE'), 'no secret in the error');
    return { frame, code };
  }

  it('the token rejected with {"error": N}', async () => {
    const token = stack.sim.issueToken({ userId: 501 });
    stack.sim.setFault({ kind: 'reject-token' }, { userId: 501 });
    const { frame } = await attempt(stack.sim.wsUrl(), token);
    assert.match(frame.error as string, /rejected the model's token \(error 1\)/);
    assert.equal(frame.stage, 'auth');
  });

  it('a token with a bad signature (the simulator validates like OnlyFans)', async () => {
    const forged = `${stack.wsToken.slice(0, stack.wsToken.lastIndexOf('.'))}.AAAA`;
    const { frame } = await attempt(stack.sim.wsUrl(), forged);
    assert.match(frame.error as string, /rejected the model's token/);
  });

  it('silence after the connect act: bounded by upstreamAuthTimeoutMs', async () => {
    const token = stack.sim.issueToken({ userId: 502 });
    stack.sim.setFault({ kind: 'silence' }, { userId: 502 });
    const started = Date.now();
    const { frame } = await attempt(stack.sim.wsUrl(), token);
    assert.match(frame.error as string, /did not confirm the connect act within 300 ms/);
    assert.ok(Date.now() - started < 3000);
  });

  it('a non-101 answer to the upgrade', async () => {
    stack.sim.setFault({ kind: 'refuse', status: 403 });
    try {
      const { frame } = await attempt(stack.sim.wsUrl());
      assert.match(frame.error as string, /HTTP 403 instead of 101/);
      assert.equal(frame.stage, 'handshake');
    } finally {
      stack.sim.clearFaults();
    }
  });

  it('an abrupt reset during the upgrade', async () => {
    stack.sim.setFault({ kind: 'reset' });
    try {
      const { frame } = await attempt(stack.sim.wsUrl());
      assert.match(frame.error as string, /reset|closed|socket/i);
    } finally {
      stack.sim.clearFaults();
    }
  });

  it('a refused TCP connection', async () => {
    const port = await freePort();
    const { frame } = await attempt(`ws://127.0.0.1:${port}/ws3/1`);
    assert.match(frame.error as string, new RegExp(`Connection refused by 127.0.0.1:${port}`));
    assert.equal(frame.stage, 'connect');
  });

  it('a server that accepts TCP and never answers the upgrade: bounded by upstreamConnectTimeoutMs', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const { port } = silent.address() as net.AddressInfo;
      const { frame } = await attempt(`ws://127.0.0.1:${port}/ws3/1`);
      assert.match(frame.error as string, /Timed out opening the OnlyFans socket/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('a close before the confirmation', async () => {
    await withUpstream((ws) => ws.close(4000, 'go away'), async (url) => {
      const { frame } = await attempt(url);
      assert.match(frame.error as string, /closed the socket before confirming the connection \(close code 4000\)/);
    });
  });

  it('an unexpected first frame', async () => {
    await withUpstream((ws) => ws.once('message', () => ws.send('{"hello":1}')), async (url) => {
      const { frame } = await attempt(url);
      assert.match(frame.error as string, /unexpected first frame/);
    });
  });

  it('accepts the connected reply in a binary frame, and relays frames that follow it in the same read', async () => {
    await withUpstream(
      (ws) =>
        ws.once('message', () => {
          // Both frames in one write: the relay must not lose the second one.
          const socket = (ws as unknown as { _socket: net.Socket })._socket;
          socket.cork();
          ws.send(Buffer.from('{"connected":true,"v":"5.4.0"}'), { binary: true });
          ws.send('{"typing":{"id":1}}');
          socket.uncork();
        }),
      async (url) => {
        const model = await stack.store.createModel(stack.orgId, { wsUrl: url, wsToken: stack.wsToken });
        const client = new TestClient(stack.relayUrl(model.id), { headers: { 'X-API-Key': stack.apiKey } });
        await client.confirmed();
        assert.deepEqual((await client.next()).json(), { typing: { id: 1 } });
        client.socket.close();
        await client.closed;
      },
    );
  });
});

describe('logs', () => {
  it('record relays opening and closing, and never a key, token or cookie', async () => {
    const stack = await startStack();
    try {
      const client = new TestClient(stack.relayUrl(stack.modelId, `?api_key=${stack.apiKey}`));
      await client.confirmed();
      client.socket.close(1000);
      await client.closed;
      const refused = new TestClient(stack.relayUrl(stack.modelId), { headers: { 'X-API-Key': `${stack.apiKey}x` } });
      await refused.closed;
      await waitFor(() => stack.logs.records().filter((r) => r.msg === 'relay closed').length >= 2, 5000, 'two relay-closed lines');
      const records = stack.logs.records();
      const opened = records.find((r) => r.msg === 'relay opened');
      assert.equal(opened?.modelId, stack.modelId);
      assert.equal(opened?.keyId, stack.keyId);
      const closed = records.filter((r) => r.msg === 'relay closed');
      assert.deepEqual(
        closed.map((r) => r.outcome),
        ['ok', 'INVALID_API_KEY'],
      );
      assert.equal(closed[0]?.clientCloseCode, 1000);
      assert.equal(typeof closed[0]?.durationMs, 'number');
      const all = stack.logs.lines.join('\n');
      for (const secret of [stack.apiKey, stack.wsToken, stack.apiKey.slice(8)]) assert.ok(!all.includes(secret), 'no secret in the logs');
    } finally {
      await stack.close();
    }
  });
});

/** A bare `ws` server standing in for OnlyFans with a scripted behaviour. */
async function withUpstream(behave: (ws: import('ws').WebSocket) => void, body: (url: string) => Promise<void>): Promise<void> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => server.once('listening', r));
  server.on('connection', (ws) => {
    ws.on('error', () => {});
    behave(ws);
  });
  try {
    await body(`ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/ws3/1`);
  } finally {
    for (const c of server.clients) c.terminate();
    await new Promise((r) => server.close(r));
  }
}
