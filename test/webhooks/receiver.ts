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
  /** The status to answer the n-th request (0-based) with; may also set a header. */
  answer: (n: number, req: http.IncomingMessage) => { status: number; headers?: Record<string, string> };
  close(): Promise<void>;
}

/** At most this many requests are kept: a runaway loop in a test fails instead of filling memory. */
const MAX_KEPT = 10_000;

export async function startReceiver(path = '/hooks'): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const receiver: Receiver = { url: '', port: 0, requests, answer: () => ({ status: 200 }), close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { status, headers } = receiver.answer(requests.length, req);
      if (requests.length < MAX_KEPT) requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      res.writeHead(status, headers).end(status >= 400 ? 'nope' : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  receiver.port = port;
  receiver.url = `http://127.0.0.1:${port}${path}`;
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
