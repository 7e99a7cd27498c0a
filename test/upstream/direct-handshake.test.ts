/**
 * The upgrade to a model's upstream without a proxy is written and read by the connector on
 * the socket itself (not Node's HTTP client): the request must be the bytes Node would send,
 * and every odd answer must end in a handshake error that says what was wrong — never a hang,
 * never an unbounded buffer.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { connectUpstream, type UpstreamConnectError, type UpstreamLimits, type UpstreamTarget } from '../../src/upstream/connector.js';
import type { Leg } from '../../src/wire/leg.js';
import { acceptFor, frame, OP } from '../wire-helpers.js';

const LIMITS: UpstreamLimits = {
  connectTimeoutMs: 3000,
  authTimeoutMs: 3000,
  maxPayload: 1 << 20,
  maxFragments: 100,
  maxBufferedChunks: 100,
  closeTimeoutMs: 1000,
  lowWaterBytes: 16 * 1024,
  maxBufferedBytes: 1 << 20,
};

interface Served {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

/** A TCP server that reads the upgrade request, then lets `answer` write what it likes. */
async function serve(answer: (socket: net.Socket, accept: string) => void, host = '127.0.0.1'): Promise<Served> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      requests.push(head.slice(0, end + 4));
      const key = /Sec-WebSocket-Key: (.+)\r\n/.exec(head)?.[1] ?? '';
      answer(socket, acceptFor(key));
    };
    socket.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const { port } = server.address() as net.AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `ws://${shown}:${port}/ws3/7?v=2`,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

function attempt(url: string, extra: Partial<UpstreamTarget> = {}): Promise<{ leg?: Leg; error?: UpstreamConnectError }> {
  const target: UpstreamTarget = { wsUrl: url, wsToken: 'tok-secret', userAgent: 'UA/1 é', cookie: 'a=b', proxyUrl: null, ...extra };
  return new Promise((resolve) => connectUpstream(target, LIMITS, { ready: (leg) => resolve({ leg }), failed: (error) => resolve({ error }) }));
}

const upgraded = (accept: string): string => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
const CONNECTED = frame(OP.text, '{"connected":true}', { mask: false });

describe('direct upgrade to the upstream', () => {
  it('sends the request Node\'s client would, byte for byte, and reads an answer split into 1-byte reads', async () => {
    const up = await serve((socket, accept) => {
      const bytes = Buffer.concat([Buffer.from(upgraded(accept), 'latin1'), CONNECTED]);
      let i = 0;
      const drip = (): void => {
        if (i >= bytes.length || socket.destroyed) return;
        socket.write(bytes.subarray(i, ++i));
        setTimeout(drip, 1);
      };
      drip();
    });
    try {
      const { leg, error } = await attempt(up.url);
      assert.equal(error, undefined, error?.message);
      leg?.terminate();
      const port = new URL(up.url).port;
      const key = /Sec-WebSocket-Key: (.+)\r\n/.exec(up.requests[0] as string)?.[1];
      assert.equal(
        up.requests[0],
        `GET /ws3/7?v=2 HTTP/1.1\r\nUser-Agent: UA/1 é\r\nOrigin: https://onlyfans.com\r\nCookie: a=b\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nHost: 127.0.0.1:${port}\r\n\r\n`,
      );
    } finally {
      await up.close();
    }
  });

  it('the confirmation in the same read as the 101, with lower-case names and Connection: keep-alive, Upgrade', async () => {
    const up = await serve((socket, accept) => {
      socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`, 'latin1'), CONNECTED]));
    });
    try {
      const { leg, error } = await attempt(up.url);
      assert.equal(error, undefined, error?.message);
      leg?.terminate();
    } finally {
      await up.close();
    }
  });

  it('an IPv6 upstream gets a bracketed Host', async (t) => {
    let up: Served;
    try {
      up = await serve((socket, accept) => socket.write(Buffer.concat([Buffer.from(upgraded(accept), 'latin1'), CONNECTED])), '::1');
    } catch {
      t.skip('no IPv6 loopback here');
      return;
    }
    try {
      const { leg, error } = await attempt(up.url);
      assert.equal(error, undefined, error?.message);
      leg?.terminate();
      assert.match(up.requests[0] as string, new RegExp(`\r\nHost: \\[::1\\]:${new URL(up.url).port}\r\n\r\n$`));
    } finally {
      await up.close();
    }
  });

  const bad: [string, (accept: string) => string | Buffer, RegExp][] = [
    ['a repeated Sec-WebSocket-Accept', (a) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${a}\r\nSec-WebSocket-Accept: ${a}\r\n\r\n`, /wrong Sec-WebSocket-Accept/],
    ['a status line that is not HTTP', () => 'SSH-2.0-OpenSSH_9.2\r\n\r\n', /malformed HTTP response/],
    ['a header line without a colon', (a) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade websocket\r\nSec-WebSocket-Accept: ${a}\r\n\r\n`, /malformed HTTP response/],
    ['an HTTP 200', () => 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', /HTTP 200 instead of 101/],
    ['more than 16 KiB of headers', () => `HTTP/1.1 101 Switching Protocols\r\n${'X-Pad: y\r\n'.repeat(2000)}`, /more than 16 KiB of headers/],
  ];
  for (const [name, answer, message] of bad) {
    it(`${name} → a handshake error, and no connect act (no token) sent`, async () => {
      let afterHead = '';
      const up = await serve((socket, accept) => {
        socket.on('data', (d) => (afterHead += d.toString('latin1')));
        socket.write(answer(accept));
      });
      try {
        const { leg, error } = await attempt(up.url);
        leg?.terminate();
        assert.equal(error?.stage, 'handshake');
        assert.match(error?.message ?? '', message);
        assert.ok(!error?.message.includes('tok-secret'));
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(afterHead, '', 'nothing after the request');
      } finally {
        await up.close();
      }
    });
  }

  it('a close before any answer reads as a reset during the handshake', async () => {
    const up = await serve((socket) => socket.destroy());
    try {
      const { error } = await attempt(up.url);
      assert.equal(error?.stage, 'connect');
      assert.match(error?.message ?? '', /reset during the handshake/);
    } finally {
      await up.close();
    }
  });

  it('a header value Node would refuse takes Node\'s client, which refuses it', async () => {
    const up = await serve((socket, accept) => socket.write(upgraded(accept)));
    try {
      await assert.rejects(attempt(up.url, { userAgent: 'bad\r\nX-Injected: 1' }), /Invalid character in header content/);
      assert.equal(up.requests.length, 0, 'nothing was sent');
    } finally {
      await up.close();
    }
  });
});
