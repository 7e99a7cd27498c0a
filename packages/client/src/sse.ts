/**
 * A session-mode model's events as server-sent events (sessions-contract.md §5), over the
 * browser's own `EventSource`: it reconnects by itself and resends the last event id, so the
 * gateway replays what came meanwhile. This wraps it with typed callbacks and says why a
 * stream stopped for good, which an EventSource alone cannot tell.
 */
import { GATEWAY_ERRORS, isGatewayErrorCode, OfgwError } from './errors.js';
import { decodeBase64, firstKey, parseUtf8Json, type GapInfo, type UpstreamStatus } from './envelope.js';
import { asFrame, type OnlyFansFrame } from './onlyfans-events.js';

/** One OnlyFans event of the stream. */
export interface StreamEvent {
  /** Its id in the model's log (opaque); the browser resends the last one when it reconnects. */
  id: string;
  modelId: string;
  /** The frame's first top-level key (e.g. `api2_chat_message`); null when it is not a JSON object. */
  event: string | null;
  /** The OnlyFans frame as parsed JSON; undefined when it is not a JSON object (see `bytes`). */
  data: OnlyFansFrame | undefined;
  /** The bytes, for a binary frame or text that is not JSON (the gateway sent them base64). */
  bytes: Uint8Array | undefined;
}

/** The `ready` event: the stream (re)opened. */
export interface StreamReady {
  modelId: string;
  /** The newest id in the model's log then (null: empty log); not the stream's own last id. */
  lastEventId: string | null;
  /** True when the stream resumed from an id with nothing lost (false on a first open or after a gap). */
  resumed: boolean;
}

export interface EventStreamOptions {
  /** The gateway: `http://`, `https://`, `ws://` or `wss://` (the scheme follows: ws → http). */
  baseUrl: string;
  modelId: string;
  /** Sent as `?api_key=` (an EventSource cannot set headers): give a browser only a key its user may see. */
  apiKey: string;
  /** Resume after this event id (one you saved: `stream.lastEventId`). */
  since?: string;
  onEvent?(event: StreamEvent): void;
  onReady?(ready: StreamReady): void;
  onStatus?(status: UpstreamStatus): void;
  onGap?(gap: GapInfo): void;
  /** The connection dropped and the browser reconnects by itself (after about 3 s). */
  onReconnecting?(): void;
  /** The stream stopped for good: the gateway's reason (`code`: INVALID_API_KEY, MODEL_NOT_CONNECTED…), `CLOSED` when none could be read, `ABORTED` after close(). */
  onClosed?(error: OfgwError): void;
}

export interface EventStream {
  /** The id of the last event delivered (`since` until one is); pass it as `since` after a page reload. */
  readonly lastEventId: string | undefined;
  readonly state: 'connecting' | 'open' | 'closed';
  /** Resolves with the reason once the stream stopped for good; never rejects. */
  readonly closed: Promise<OfgwError>;
  close(): void;
}

/** The part of the WHATWG EventSource this uses (typed here so no DOM library is needed). */
interface BrowserEventSource {
  readonly readyState: number;
  close(): void;
  addEventListener(type: string, listener: (event: { data?: unknown; lastEventId?: string }) => void): void;
}
type BrowserEventSourceConstructor = new (url: string) => BrowserEventSource;

const CLOSED = 2;

/**
 * Opens a model's event stream. Every OnlyFans event reaches `onEvent` (the stream asks the
 * gateway to name them all `message`, so keys nobody knows yet arrive too), once and in order,
 * across the browser's own reconnects.
 *
 * @example
 * import { events } from '@ofgw/client'
 * const stream = events({ baseUrl: 'https://gateway.example.com', modelId, apiKey,
 *   since: localStorage.lastId,
 *   onEvent: ({ id, event, data }) => { render(event, data); localStorage.lastId = id } })
 * stream.closed.then((e) => console.warn('stopped:', e.code))
 */
export function events(options: EventStreamOptions): EventStream {
  const EventSourceImpl = (globalThis as { EventSource?: BrowserEventSourceConstructor }).EventSource;
  if (typeof EventSourceImpl !== 'function') throw new Error('no global EventSource in this runtime: use connect() (a WebSocket) instead');
  const url = streamUrl(options);
  let lastEventId = options.since;
  let state: EventStream['state'] = 'connecting';
  let settle: (error: OfgwError) => void = () => undefined;
  const closed = new Promise<OfgwError>((resolve) => (settle = resolve));
  const source = new EventSourceImpl(url);

  const stop = (error: OfgwError): void => {
    if (state === 'closed') return;
    state = 'closed';
    source.close();
    settle(error);
    options.onClosed?.(error);
  };
  const json = (data: unknown): Record<string, unknown> => {
    const value = typeof data === 'string' ? safeParse(data) : undefined;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  };
  const deliver = (id: string | undefined, event: StreamEvent['event'], data: OnlyFansFrame | undefined, bytes: Uint8Array | undefined): void => {
    if (id === undefined || id === '') return;
    lastEventId = id;
    options.onEvent?.({ id, modelId: options.modelId, event, data, bytes });
  };

  source.addEventListener('ready', (e) => {
    state = 'open';
    const r = json(e.data);
    options.onReady?.({ modelId: options.modelId, lastEventId: typeof r.lastEventId === 'string' ? r.lastEventId : null, resumed: r.resumed === true });
  });
  source.addEventListener('message', (e) => {
    const data = asFrame(typeof e.data === 'string' ? safeParse(e.data) : undefined);
    deliver(e.lastEventId, data ? firstKey(data) : null, data, undefined);
  });
  source.addEventListener('base64', (e) => {
    const bytes = decodeBase64(String(e.data));
    const data = asFrame(parseUtf8Json(bytes));
    deliver(e.lastEventId, data ? firstKey(data) : null, data, bytes);
  });
  source.addEventListener('status', (e) => {
    if (e.lastEventId) lastEventId = e.lastEventId;
    const s = json(e.data);
    const upstream = s.upstream === 'connected' || s.upstream === 'reconnecting' ? s.upstream : 'down';
    options.onStatus?.({ modelId: options.modelId, upstream, ...(typeof s.reason === 'string' ? { reason: s.reason } : {}) });
  });
  source.addEventListener('gap', (e) => {
    const g = json(e.data);
    options.onGap?.({ modelId: options.modelId, after: typeof g.after === 'string' ? g.after : null, before: String(g.before) });
  });
  // The gateway ended the stream with a catalog error. For one that needs a person first
  // (a revoked key…), the browser's reconnect would only be refused: stop here.
  source.addEventListener('end', (e) => {
    const frame = json(e.data);
    if (!isGatewayErrorCode(frame.code)) return;
    if (!GATEWAY_ERRORS[frame.code].retry) stop(new OfgwError(frame.code, String(frame.error), { frame }));
  });
  source.addEventListener('error', () => {
    if (state === 'closed') return;
    if (source.readyState !== CLOSED) {
      state = 'connecting';
      options.onReconnecting?.();
      return;
    }
    // A refusal (not 200) stops an EventSource without saying why: ask the gateway once more.
    void refusalOf(url).then(stop);
  });

  return {
    get lastEventId() {
      return lastEventId;
    },
    get state() {
      return state;
    },
    closed,
    close: () => stop(new OfgwError('ABORTED', 'close() was called')),
  };
}

function streamUrl(options: EventStreamOptions): string {
  const { baseUrl, modelId, apiKey, since } = options;
  if (typeof baseUrl !== 'string' || !/^(wss?|https?):\/\/[^/?#]+/i.test(baseUrl)) {
    throw new TypeError(`events(options): baseUrl must be an http://, https://, ws:// or wss:// URL of the gateway, got ${JSON.stringify(baseUrl)}`);
  }
  if (typeof modelId !== 'string' || modelId === '') throw new TypeError('events(options): modelId must be a non-empty string');
  // The key's value is never echoed.
  if (typeof apiKey !== 'string') throw new TypeError('events(options): apiKey must be a string');
  if (since !== undefined && (typeof since !== 'string' || since === '')) throw new TypeError('events(options): since must be a non-empty event id');
  const http = baseUrl.replace(/^ws/i, 'http').replace(/\/+$/, '');
  const resume = since === undefined ? '' : `&since=${encodeURIComponent(since)}`;
  return `${http}/api/models/${encodeURIComponent(modelId)}/events?event_names=message${resume}&api_key=${encodeURIComponent(apiKey)}`;
}

/** Why the gateway refused the stream: its JSON body, read with a plain request. */
async function refusalOf(url: string): Promise<OfgwError> {
  const controller = new AbortController();
  try {
    const res = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    if (res.ok) return new OfgwError('CLOSED', 'the stream closed and could not be reopened');
    const body = (await res.json()) as Record<string, unknown>;
    if (isGatewayErrorCode(body.code)) {
      const retryAfterMs = typeof body.retryAfterMs === 'number' ? body.retryAfterMs : undefined;
      return new OfgwError(body.code, String(body.error), { frame: body, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
    }
    return new OfgwError('CLOSED', `the gateway refused the stream with HTTP ${res.status}`);
  } catch {
    return new OfgwError('CLOSED', 'the stream closed (the gateway could not be reached)');
  } finally {
    // A stream that opened meanwhile is not wanted: this request only asked why.
    controller.abort();
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
