/**
 * `GET /api/models/{model_id}/events` (sessions-contract.md §5): a session-mode model's events
 * as server-sent events. This routes the request and answers what is not a stream (CORS
 * preflights, other methods, shutdown); {@link SseStream} admits and serves the stream itself.
 *
 * The key comes from `X-API-Key` or `?api_key=` (an EventSource cannot set headers); the resume
 * point from `Last-Event-ID` (what browsers send on reconnect) or `?since=`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpRoute } from '../http-route.js';
import { sendJsonError } from './http-responses.js';
import { apiKeyOf, decodeSegment } from './request-parts.js';
import { SSE_CORS, SseStream, type SseContext } from './sse-stream.js';

export const SSE_PATH = /^\/api\/models\/([^/]+)\/events$/;

/** What the route needs besides what every stream shares. */
export interface SseRouteContext extends SseContext {
  readonly draining: boolean;
  /** Registers a stream from its first byte, so shutdown and the change feed see it. */
  track(stream: SseStream): void;
  /** The store change sequence already applied (see ClientConnection.changeSeq). */
  changeSeq(): number;
  clientIpOf(req: IncomingMessage): string;
}

/** How long a browser may cache the preflight's answer, in seconds. */
const PREFLIGHT_MAX_AGE_S = 600;

export function sseRoute(ctx: SseRouteContext): HttpRoute {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const match = SSE_PATH.exec(q === -1 ? url : url.slice(0, q));
    if (!match) return false;
    if (req.method === 'OPTIONS') return preflight(res);
    if (req.method !== 'GET') {
      sendJsonError(res, 'METHOD_NOT_ALLOWED', { allow: 'GET, OPTIONS', ...SSE_CORS });
      return true;
    }
    if (ctx.draining) {
      sendJsonError(res, 'SHUTTING_DOWN', SSE_CORS);
      return true;
    }
    const query = q === -1 ? '' : url.slice(q + 1);
    const header = req.headers['last-event-id'];
    const stream = new SseStream(res, ctx);
    ctx.track(stream);
    void stream.start(
      { apiKey: apiKeyOf(req, query), modelId: decodeSegment(match[1] ?? ''), clientIp: ctx.clientIpOf(req) },
      query,
      typeof header === 'string' && header !== '' ? header : undefined,
      ctx.changeSeq(),
    );
    return true;
  };
}

/**
 * A page on another origin sends the key as a header (fetch-based clients) or reconnects with
 * Last-Event-ID; both need the browser's preflight answered.
 */
function preflight(res: ServerResponse): true {
  res.writeHead(204, {
    ...SSE_CORS,
    'access-control-allow-methods': 'GET',
    'access-control-allow-headers': 'x-api-key, last-event-id, accept, cache-control',
    'access-control-max-age': String(PREFLIGHT_MAX_AGE_S),
  });
  res.end();
  return true;
}
