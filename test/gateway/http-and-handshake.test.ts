/**
 * Contract §1 (426 and 404 JSON) and the handshake deadline: a client that opens TCP and
 * sends nothing, or an incomplete upgrade request, is cut off after handshakeTimeoutMs —
 * while an established relay is not.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { openRelay, startStack, type Stack } from '../helpers.js';

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; type: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as Record<string, unknown>, type: String(res.headers['content-type']) }));
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      reject(new Error(`unexpected upgrade ${res.statusCode}`));
    });
    req.on('error', reject);
  });
}

/** Sends raw bytes and resolves with everything received until the server closes. */
function rawExchange(port: number, bytes: string): Promise<{ data: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => {
      if (bytes) socket.write(bytes);
    });
    let data = '';
    socket.on('data', (c) => (data += c.toString()));
    socket.on('error', () => {});
    socket.on('close', () => resolve({ data, ms: Date.now() - started }));
  });
}

describe('HTTP answers and the handshake deadline', () => {
  let stack: Stack;
  let port: number;
  before(async () => {
    stack = await startStack({ config: { handshakeTimeoutMs: 400 } });
    port = stack.gateway.address().port;
  });
  after(async () => {
    await stack.close();
  });

  it('426 JSON for the relay path without an upgrade', async () => {
    const r = await get(port, `/api/models/${stack.modelId}/ws?api_key=x`);
    assert.equal(r.status, 426);
    assert.match(r.type, /application\/json/);
    assert.equal(r.body.code, 'UPGRADE_REQUIRED');
    assert.equal(typeof r.body.error, 'string');
  });

  it('404 JSON for unknown paths, with or without an upgrade', async () => {
    for (const path of ['/', '/api/models', `/api/models/${stack.modelId}/ws/extra`, '/metricsx']) {
      const r = await get(port, path);
      assert.equal(r.status, 404, path);
      assert.equal(r.body.code, 'NOT_FOUND');
    }
    const upgrade = await rawExchange(
      port,
      'GET /nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    assert.match(upgrade.data, /^HTTP\/1\.1 404/);
    assert.match(upgrade.data, /"code":"NOT_FOUND"/);
  });

  it('cuts off a TCP connection that sends nothing', async () => {
    const { ms } = await rawExchange(port, '');
    assert.ok(ms < 5000, `cut after ${ms} ms`);
  });

  it('cuts off an upgrade request that never finishes its headers, while a relay lives on', async () => {
    const relay = await openRelay(stack);
    const { data } = await rawExchange(port, `GET /api/models/${stack.modelId}/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n`);
    assert.match(data, /^(HTTP\/1\.1 408|)/);
    // The relay opened before that cut-off is older than the deadline and still works.
    relay.socket.send('{"act":"get_onlines","ids":[]}');
    assert.deepEqual((await relay.next()).json(), { online: [] });
    relay.socket.close();
    await relay.closed;
  });
});
