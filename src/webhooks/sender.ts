/**
 * One delivery attempt over HTTP: resolve and check the target (target-policy.ts), connect to
 * exactly the checked addresses (the URL's host stays the Host header and the TLS name), POST
 * the signed body, and read at most {@link MAX_RESPONSE_BYTES} of the answer. Redirects are
 * never followed: a 3xx is a failed attempt, so a receiver cannot bounce the gateway to an
 * address the check would refuse.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { resolveTarget, TargetRefused, type Resolver } from './target-policy.js';
import type { SignedHeaders } from './signing.js';

/** Enough of a response body to show an error; the rest is not read. */
export const MAX_RESPONSE_BYTES = 4096;

export interface AttemptResult {
  /** The receiver's status; null when none came (refused, timed out, connection failed). */
  statusCode: number | null;
  /** Why the attempt failed, for the delivery log; null for a 2xx. Never holds a secret. */
  error: string | null;
  latencyMs: number;
  /** The first bytes of the response body. */
  body: string;
}

export interface SendOptions {
  timeoutMs: number;
  allowPrivate: boolean;
  resolve?: Resolver;
  userAgent?: string;
}

/** A lookup that answers with the checked addresses only, in the shape the caller asked for. */
function pinnedLookup(addresses: Array<{ address: string; family: 4 | 6 }>): LookupFunction {
  return (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as (e: null, a: typeof addresses) => void)(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
}

/** Posts `body` with the signature headers to `rawUrl`; never throws. */
export async function sendWebhook(rawUrl: string, body: string, headers: SignedHeaders, options: SendOptions): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  let target;
  try {
    target = await resolveTarget(rawUrl, options.allowPrivate, options.resolve);
  } catch (err) {
    if (!(err instanceof TargetRefused)) throw err;
    return { statusCode: null, error: err.message, latencyMs: elapsed(), body: '' };
  }
  const { url, addresses } = target;
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    const finish = (result: Omit<AttemptResult, 'latencyMs'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve({ ...result, latencyMs: elapsed() });
    };
    const request = client.request(
      url,
      {
        method: 'POST',
        lookup: pinnedLookup(addresses),
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': options.userAgent ?? 'ofgw-webhooks',
          ...headers,
        },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        const done = (): void => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (status >= 200 && status < 300) finish({ statusCode: status, error: null, body: text });
          else if (status >= 300 && status < 400) finish({ statusCode: status, error: `HTTP ${status}: redirects are not followed`, body: text });
          else finish({ statusCode: status, error: `HTTP ${status}`, body: text });
        };
        response.on('data', (chunk: Buffer) => {
          const room = MAX_RESPONSE_BYTES - size;
          if (room > 0) chunks.push(chunk.subarray(0, room));
          size += chunk.length;
          // Enough read: the rest of a large or endless body is not waited for.
          if (size >= MAX_RESPONSE_BYTES) done();
        });
        response.on('end', done);
        response.on('error', () => done());
      },
    );
    const timer = setTimeout(() => finish({ statusCode: null, error: `no answer within ${options.timeoutMs} ms`, body: '' }), options.timeoutMs);
    request.on('error', (err: NodeJS.ErrnoException) => finish({ statusCode: null, error: `connection failed: ${err.code ?? err.message}`, body: '' }));
    request.end(body);
  });
}
