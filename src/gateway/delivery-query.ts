/**
 * The query parameters that choose how a connection is served (sessions-contract.md §3):
 * `format=raw|envelope` and `since=<eventId>`. Anything else in the query is ignored, as the
 * base contract ignores it; a malformed value of these two answers BAD_REQUEST, naming the
 * parameter as the client wrote it.
 */
import { GatewayError } from '../errors.js';

export type ClientFormat = 'raw' | 'envelope';

export interface DeliveryQuery {
  format: ClientFormat;
  /** The last event id the client has, or undefined to start from the live tail. */
  since: string | undefined;
}

export const RAW_QUERY: DeliveryQuery = Object.freeze({ format: 'raw', since: undefined });

/** Longest `since` accepted: ids are `<ms>-<seq>`, far shorter. */
const MAX_SINCE = 64;

/** @throws {GatewayError} BAD_REQUEST */
export function readDeliveryQuery(query: string): DeliveryQuery {
  if (query === '' || (!query.includes('format=') && !query.includes('since='))) return RAW_QUERY;
  const params = new URLSearchParams(query);
  const format = params.get('format');
  if (format !== null && format !== 'raw' && format !== 'envelope') {
    throw new GatewayError('BAD_REQUEST', `format must be raw or envelope, not ${JSON.stringify(format.slice(0, 32))}`);
  }
  const since = params.get('since');
  if (since !== null) {
    if (format !== 'envelope') throw new GatewayError('BAD_REQUEST', 'since needs format=envelope (raw frames carry no event ids)');
    if (since === '' || since.length > MAX_SINCE) throw new GatewayError('BAD_REQUEST', `since must be an event id from a previous connection (at most ${MAX_SINCE} characters)`);
  }
  return { format: format === 'envelope' ? 'envelope' : 'raw', since: since ?? undefined };
}

/** How a server-sent events stream is served (sessions-contract.md §5). */
export interface SseQuery {
  /** The last event id the client has, or undefined to start from the live tail. */
  since: string | undefined;
  /** `message`: every OnlyFans event is named `message` (see src/delivery/sse-frames.ts). */
  names: 'onlyfans' | 'message';
}

/**
 * Reads `since` and `event_names` from the query and the `Last-Event-ID` header, which wins:
 * a browser reconnecting sends it with the URL it first opened, whose `since` is older.
 * @throws {GatewayError} BAD_REQUEST, naming the parameter or header as the client wrote it.
 */
export function readSseQuery(query: string, lastEventId: string | undefined): SseQuery {
  const params = new URLSearchParams(query);
  const names = params.get('event_names');
  if (names !== null && names !== 'onlyfans' && names !== 'message') {
    throw new GatewayError('BAD_REQUEST', `event_names must be onlyfans or message, not ${JSON.stringify(names.slice(0, 32))}`);
  }
  const header = lastEventId?.trim();
  if (header !== undefined && header.length > MAX_SINCE) throw new GatewayError('BAD_REQUEST', `Last-Event-ID must be an event id the stream sent (at most ${MAX_SINCE} characters)`);
  const since = params.get('since');
  if (since !== null && (since === '' || since.length > MAX_SINCE)) {
    throw new GatewayError('BAD_REQUEST', `since must be an event id from a previous stream (at most ${MAX_SINCE} characters)`);
  }
  return { since: header || (since ?? undefined), names: names === 'message' ? 'message' : 'onlyfans' };
}
