/**
 * A real webhook receiver on 127.0.0.1 for tests: records every request (headers and body)
 * and answers with whatever `answer` says for it (200 by default). Not a test itself: run
 * without arguments by the test runner, it only defines things.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedRequest {
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The answer given. */
  status: number;
}

export interface Receiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /**
   * The status to answer the n-th request (0-based) with; may also set a header, and hold the
   * answer back for `delayMs` (a slow receiver, so that attempts are in flight).
   */
  answer: (n: number, req: http.IncomingMessage) => { status: number; headers?: Record<string, string>; delayMs?: number };
  /** Requests received and not answered yet (held back by `delayMs`). */
  holding: number;
  close(): Promise<void>;
}

/** At most this many requests are kept: a runaway loop in a test fails instead of filling memory. */
const MAX_KEPT = 10_000;

/** Listens on `port` (0: any free one), for instance a port that refused connections until now. */
export async function startReceiver(path = '/hooks', port = 0): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const receiver: Receiver = { url: '', port: 0, requests, answer: () => ({ status: 200 }), holding: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { status, headers, delayMs } = receiver.answer(requests.length, req);
      if (requests.length < MAX_KEPT) requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      const reply = (): void => {
        // The sender may be gone (a killed gateway): the answer then goes nowhere.
        if (!res.destroyed) res.writeHead(status, headers).end(status >= 400 ? 'nope' : 'ok');
      };
      if (!delayMs) return reply();
      receiver.holding++;
      setTimeout(() => {
        receiver.holding--;
        reply();
      }, delayMs);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}${path}`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

/** Verifies a request with the independent `standardwebhooks` implementation; returns the parsed body. */
export function verified(secret: string, request: ReceivedRequest): unknown {
  const headers = {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  };
  return new Webhook(secret).verify(request.body, headers);
}
