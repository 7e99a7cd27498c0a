/**
 * The SDK's envelope format against a scripted gateway on 127.0.0.1 that sends what the test
 * says, for what the real gateway does not do on purpose: an event id sent twice (the duplicate
 * guard), replies out of order (matched by requestId), and the exact reconnect URL (`since`
 * URL-encoded).
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { connect, type EnvelopeEvent, type OfgwClient } from '../../packages/client/src/node.js';
import { waitFor } from '../helpers.js';
import { FAST_RECONNECT } from './sdk-harness.js';

const MODEL = '16f3d13b-9415-4e6b-babe-e8db6b31bd97';

interface Accepted {
  socket: WebSocket;
  url: string;
  received: Record<string, unknown>[];
}

describe('SDK envelope format over a scripted gateway', () => {
  let server: WebSocketServer;
  let baseUrl: string;
  const accepted: Accepted[] = [];
  const clients: OfgwClient[] = [];

  before(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    baseUrl = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('connection', (socket, request) => {
      const entry: Accepted = { socket, url: request.url ?? '', received: [] };
      socket.on('message', (data) => entry.received.push(JSON.parse(data.toString()) as Record<string, unknown>));
      accepted.push(entry);
    });
  });
  after(async () => {
    // Also when an assertion failed midway: a client left reconnecting would keep the run alive.
    await Promise.all(clients.map((c) => c.close()));
    for (const client of server.clients) client.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const event = (id: string, n: number): string => JSON.stringify({ type: 'event', id, modelId: MODEL, ts: 1, event: 'typing', data: { typing: { id: n } } });

  it('drops an event id it already delivered, also across a reconnect, and resumes with since URL-encoded', async () => {
    const connecting = connect({ baseUrl, modelId: MODEL, apiKey: 'k', format: 'envelope', since: 'a b&c', reconnect: FAST_RECONNECT });
    await waitFor(() => accepted.length === 1, 5000, 'the first connection');
    const first = accepted[0] as Accepted;
    assert.equal(first.url, `/api/models/${MODEL}/ws?format=envelope&since=a%20b%26c`);
    first.socket.send(JSON.stringify({ connected: true, modelId: MODEL, format: 'envelope', lastEventId: '1-1', resumed: true }));
    const client = await connecting;
    clients.push(client);
    const seen: EnvelopeEvent[] = [];
    client.on('event', (e) => seen.push(e));
    first.socket.send(event('1-0', 0));
    first.socket.send(event('1-1', 1));
    first.socket.send(event('1-0', 0));
    await waitFor(() => client.lastEventId === '1-1', 5000, 'two events');
    first.socket.close(1012);

    await waitFor(() => accepted.length === 2, 5000, 'the reconnect');
    const second = accepted[1] as Accepted;
    assert.equal(second.url, `/api/models/${MODEL}/ws?format=envelope&since=1-1`);
    second.socket.send(JSON.stringify({ connected: true, modelId: MODEL, format: 'envelope', lastEventId: '1-2', resumed: true }));
    second.socket.send(event('1-1', 1));
    second.socket.send(event('1-2', 2));
    await waitFor(() => client.lastEventId === '1-2', 5000, 'the third event');
    assert.deepEqual(seen.map((e) => e.id), ['1-0', '1-1', '1-2']);

    // Replies out of order still reach their own request.
    const a = client.getOnlines(['1']);
    const b = client.getOnlines(['2']);
    await waitFor(() => second.received.length === 2, 5000, 'two requests');
    const [ra, rb] = second.received;
    assert.equal(ra?.type, 'send');
    assert.deepEqual(ra?.data, { act: 'get_onlines', ids: ['1'] });
    assert.notEqual(ra?.requestId, rb?.requestId);
    second.socket.send(JSON.stringify({ type: 'reply', requestId: rb?.requestId, data: { online: ['2'] } }));
    second.socket.send(JSON.stringify({ type: 'reply', requestId: ra?.requestId, error: 'no reply in time', code: 'REQUEST_FAILED' }));
    assert.deepEqual(await b, ['2']);
    await assert.rejects(a, (e: Error & { code?: string; requestId?: string }) => e.code === 'REQUEST_FAILED' && e.requestId === ra?.requestId);
    assert.equal(client.state, 'open', 'a failed request leaves the connection open');
    await client.close();
  });
});
