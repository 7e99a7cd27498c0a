/**
 * The client core: one relay to one model, reopened on retryable failures. Runtime specifics
 * (which WebSocket, where the key goes) come in through a {@link SocketFactory}.
 */
import { TypedEmitter } from './emitter.js';
import { deliveryQuery, readEnvelopeFrame, RecentIds, type ClientFormat, type Confirmation, type EnvelopeEvent, type GapInfo, type UpstreamStatus } from './envelope.js';
import { asGatewayErrorFrame, errorFromClose, errorFromFrame, keepsConnection, OfgwError, type GatewayErrorCode } from './errors.js';
import { OnlinesQueue } from './onlines.js';
import { EnvelopeRequests, sendFrame } from './requests.js';
import { asFrame, type OnlyFansEventKey, type OnlyFansEvents, type OnlyFansFrame } from './onlyfans-events.js';
import { Backoff, decideReconnect, resolveReconnectOptions, type ReconnectOptions, type ResolvedReconnectOptions } from './reconnect.js';
import type { RelaySocket, SocketFactory } from './socket.js';

/** How to connect; `baseUrl`, `modelId` and `apiKey` are required. */
export interface ClientOptions {
  /** The gateway, e.g. `wss://gateway.example.com` (http:// and https:// are accepted too). */
  baseUrl: string;
  /** The model's id (a UUID). */
  modelId: string;
  /** The organization's API key. Never logged, never part of an error message. */
  apiKey: string;
  /** Aborting it closes the client for good, as `close()` does. */
  signal?: AbortSignal;
  /** Reconnection policy, or `false` to never reconnect. Default: on, with the defaults of {@link ReconnectOptions}. */
  reconnect?: ReconnectOptions | false;
  /**
   * Retry the first connection too, on retryable failures, so `connect()` resolves only on a
   * confirmation (or rejects on a "do not retry" code, `maxRetries`, or abort). Default false:
   * `connect()` rejects on the first failure, whatever it is.
   */
  retryInitial?: boolean;
  /** Time from opening a socket to the confirmation, in ms. Default 20000 (the gateway's own upstream timeouts come first). */
  connectTimeoutMs?: number;
  /** Default timeout of `getOnlines()`, in ms. Default 10000 (real clients treat 5–10 s without a reply as a dead link). */
  getOnlinesTimeoutMs?: number;
  /**
   * `raw` (default): OnlyFans frames exactly as they came, as the base contract relays them.
   * `envelope`: typed frames — `event` with an id, `status`, `gap` — and, for a model in
   * session mode, every reconnect resumes after the last event delivered, so no event comes
   * twice and none is lost within the gateway's retention. Requests carry ids (several
   * `getOnlines()` in flight at once).
   */
  format?: ClientFormat;
  /**
   * Envelope format: resume after this event id on the first connection too (an id saved from
   * `lastEventId` before the process restarted). Default: start from the live stream.
   */
  since?: string;
  /**
   * Listeners attached before the first attempt, so they hear what happens before `connect()`
   * resolves: with `retryInitial`, each `reconnecting` wait while the gateway is unreachable
   * (a listener added with `client.on()` once `connect()` resolved has missed those), and a
   * `message` that arrives together with the confirmation.
   *
   * @example
   * connect({ baseUrl, modelId, apiKey, retryInitial: true, on: { reconnecting: ({ delayMs }) => console.warn('retrying in', delayMs, 'ms') } })
   */
  on?: ClientListeners;
}

/** One listener per event, for {@link ClientOptions.on}. */
export type ClientListeners = { [E in keyof ClientEvents]?: (...args: ClientEvents[E]) => void };

/** A relayed message as it came, with its JSON parsed when it is JSON. */
export interface RelayedMessage {
  /** The data as received: a string for a text frame, bytes for a binary frame. */
  raw: string | Uint8Array;
  binary: boolean;
  /** The parsed JSON (text, or binary holding UTF-8 JSON); undefined when it is not JSON. */
  json: unknown;
  /** `json` when it is an object: an OnlyFans frame, whose top-level keys are its events. */
  frame: OnlyFansFrame | undefined;
  /**
   * Envelope format: the event this message came in (its id, time, key). `raw` is then the
   * frame serialized again, or the bytes when the gateway sent them base64 (`binary` true).
   */
  event?: EnvelopeEvent;
}

/** Passed to `close` listeners, once per relay that ends. */
export interface CloseInfo {
  code: number;
  reason: string;
  /** Why it ended; `ABORTED` for your own `close()`. */
  error: OfgwError;
  /** Whether the client will reconnect (a `reconnecting` event follows). */
  willReconnect: boolean;
}

/** Passed to `reconnecting` listeners before each wait. */
export interface ReconnectingInfo {
  /** 1 for the first retry after a failure, counting up until a stable relay resets it. */
  attempt: number;
  delayMs: number;
  error: OfgwError;
}

/** The client's events and their arguments. */
export interface ClientEvents {
  /** A relay was confirmed (each after the first; `connect()` itself resolves on the first). */
  open: [info: { modelId: string; reconnected: boolean; confirmation: Confirmation }];
  /** Every relayed message, whatever it holds. */
  message: [message: RelayedMessage];
  /** Envelope format: every event, once, in order (also delivered as a `message`). */
  event: [event: EnvelopeEvent];
  /** Envelope format, session-mode model: the gateway's OnlyFans socket changed state. */
  status: [status: UpstreamStatus];
  /** Envelope format: events you cannot have (older than the gateway's log keeps). */
  gap: [gap: GapInfo];
  /**
   * Multi-model socket (`connectMany`): one model was refused or left (disconnected, removed,
   * switched to relay mode); the socket stays open for the others.
   */
  modelError: [info: { modelId: string; error: OfgwError }];
  /**
   * A relay failed or ended for a reason other than your `close()`; or one frame or request
   * was refused (ACTION_NOT_ALLOWED, REQUEST_FAILED), which leaves the connection open — a
   * `close` event follows only when the relay ended.
   */
  error: [error: OfgwError];
  close: [info: CloseInfo];
  reconnecting: [info: ReconnectingInfo];
}

export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Close code the SDK uses for its own closes (1000: the gateway passes it upstream as is). */
const NORMAL_CLOSURE = 1000;
/** After a gateway error frame, how long to wait for its close before closing ourselves. */
const ERROR_CLOSE_GRACE_MS = 5000;

/**
 * A client for one model's relay. Get one from `connect()`.
 *
 * @example
 * const client = await connect({ baseUrl, modelId, apiKey })
 * client.onEvent('api2_chat_message', (msg) => console.log(msg.fromUser?.id, msg.text))
 * const online = await client.getOnlines(['12345678'])
 */
export class OfgwClient extends TypedEmitter<ClientEvents> {
  readonly modelId: string;
  /** Resolves once the client has stopped for good, with the error that stopped it. Never rejects. */
  readonly closed: Promise<OfgwError>;

  /** The endpoint, without query. */
  protected readonly url: string;
  /** The gateway's ws:// or wss:// base URL. */
  protected readonly gatewayUrl: string;
  private readonly apiKey: string;
  private readonly factory: SocketFactory;
  private readonly reconnectOptions: ResolvedReconnectOptions | undefined;
  private readonly backoff: Backoff | undefined;
  private readonly connectTimeoutMs: number;
  private readonly onlinesTimeoutMs: number;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = (): void => void this.close();
  private socketState: ClientState = 'connecting';
  private socket: RelaySocket | undefined;
  private onlines: OnlinesQueue | undefined;
  private readonly format: ClientFormat;
  /** The current relay was confirmed in envelope format. */
  private envelope = false;
  private requests: EnvelopeRequests | undefined;
  private requestCount = 0;
  private lastDelivered: string | undefined;
  private readonly recentIds = new RecentIds();
  private lastConfirmation: Confirmation | undefined;
  /** Socket callbacks waiting for `connect()`'s caller (see holdUntilConnectResolved). */
  private held: Array<() => void> | undefined;
  private errorFrame: (Record<string, unknown> & { error: string; code: GatewayErrorCode }) | undefined;
  private openedAt: number | undefined;
  private everOpened = false;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private graceTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private socketClosed: (() => void) | undefined;
  private finish!: (error: OfgwError) => void;
  private firstOutcome: { resolve(): void; reject(error: OfgwError): void; retry: boolean } | undefined;

  /** @internal Use `connect()`. */
  constructor(options: ClientOptions, factory: SocketFactory) {
    super();
    const { baseUrl, modelId, apiKey, format, since } = checkOptions(options);
    this.modelId = modelId;
    this.format = format;
    this.lastDelivered = since;
    this.apiKey = apiKey;
    this.gatewayUrl = baseUrl;
    this.url = `${baseUrl}/api/models/${encodeURIComponent(modelId)}/ws`;
    this.factory = factory;
    this.reconnectOptions = options.reconnect === false ? undefined : resolveReconnectOptions(options.reconnect);
    this.backoff = this.reconnectOptions && new Backoff(this.reconnectOptions);
    this.connectTimeoutMs = positiveMs(options.connectTimeoutMs, 20_000, 'connectTimeoutMs');
    this.onlinesTimeoutMs = positiveMs(options.getOnlinesTimeoutMs, 10_000, 'getOnlinesTimeoutMs');
    this.signal = options.signal;
    this.closed = new Promise<OfgwError>((resolve) => (this.finish = resolve));
    for (const [event, listener] of Object.entries(options.on ?? {}) as [keyof ClientEvents, ClientListeners[keyof ClientEvents]][]) {
      if (listener !== undefined) this.on(event, listener as (...args: ClientEvents[typeof event]) => void);
    }
  }

  /** `connecting`, `open`, `reconnecting` (waiting to retry) or `closed` (for good). */
  get state(): ClientState {
    return this.socketState;
  }

  /**
   * Envelope format: the id of the last event delivered to you (the `since` option until one
   * is), which every reconnect resumes after. Save it to resume after a restart with `since`.
   */
  get lastEventId(): string | undefined {
    return this.lastDelivered;
  }

  /** What the latest confirmation said (format; in envelope format `lastEventId`, `resumed`). */
  get confirmation(): Confirmation | undefined {
    return this.lastConfirmation;
  }

  /**
   * @internal Starts the first connection; resolves on its confirmation. Called by `connect()`.
   */
  start(retryInitial: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.firstOutcome = { resolve, reject, retry: retryInitial };
      if (this.signal?.aborted) return void this.close();
      this.signal?.addEventListener('abort', this.onAbort, { once: true });
      this.open();
    });
  }

  /**
   * Listens for one OnlyFans event key in every relayed frame; the value is typed for the
   * known keys, `unknown` for others. Returns a function that stops listening.
   *
   * @example
   * client.onEvent('typing', ({ id }) => console.log('fan', id, 'is typing'))
   */
  onEvent<K extends OnlyFansEventKey>(key: K, listener: (value: OnlyFansEvents[K], frame: OnlyFansFrame) => void): () => void;
  onEvent(key: string, listener: (value: unknown, frame: OnlyFansFrame) => void): () => void;
  onEvent(key: string, listener: (value: never, frame: OnlyFansFrame) => void): () => void {
    return this.on('message', ({ frame }) => {
      if (frame && Object.prototype.hasOwnProperty.call(frame, key)) (listener as (value: unknown, frame: OnlyFansFrame) => void)(frame[key], frame);
    });
  }

  /**
   * Sends an OnlyFans action on the open relay: an object is sent as JSON text, a string as a
   * text frame, bytes as a binary frame. Throws an OfgwError `NOT_CONNECTED` when no relay is
   * open (messages are not kept across reconnects: an action may not make sense by then).
   * Use `getOnlines()` rather than sending `get_onlines` yourself, or replies get mixed up.
   *
   * In envelope format an object goes as `{"type":"send","requestId","data"}` and its request
   * id is returned: a refusal (ACTION_NOT_ALLOWED, REQUEST_FAILED) comes as an `error` event
   * whose `requestId` is that id, and the connection stays open.
   */
  send(message: object | string | Uint8Array): string | undefined {
    if (this.socketState !== 'open' || !this.socket) {
      throw new OfgwError('NOT_CONNECTED', `cannot send: the relay is ${this.socketState}`);
    }
    if (typeof message === 'string' || message instanceof Uint8Array) {
      this.socket.send(message);
      return undefined;
    }
    if (!this.envelope) {
      this.socket.send(JSON.stringify(message));
      return undefined;
    }
    const requestId = this.newRequestId();
    this.socket.send(sendFrame(requestId, message));
    return requestId;
  }

  /**
   * Asks OnlyFans which of `ids` are online and resolves with the `online` list of this
   * request's own reply. In raw format requests go one at a time (replies carry no id); in
   * envelope format each carries a request id and any number may be in flight. Rejects with
   * `TIMEOUT` after `timeoutMs` (default `getOnlinesTimeoutMs`), `NOT_CONNECTED` when no relay
   * is open, or `CLOSED`/the relay's error when it closes first.
   */
  getOnlines(ids: ReadonlyArray<number | string>, options: { timeoutMs?: number } = {}): Promise<Array<number | string>> {
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' || typeof id === 'number')) {
      return Promise.reject(new TypeError('getOnlines(ids): ids must be an array of strings or numbers'));
    }
    if (this.socketState !== 'open' || !(this.onlines || this.requests)) {
      return Promise.reject(new OfgwError('NOT_CONNECTED', `cannot ask get_onlines: the relay is ${this.socketState}`));
    }
    const timeoutMs = positiveMs(options.timeoutMs, this.onlinesTimeoutMs, 'timeoutMs');
    if (this.requests) return this.requests.request({ act: 'get_onlines', ids: [...ids] }, timeoutMs).then(onlineList);
    return (this.onlines as OnlinesQueue).request(ids, timeoutMs);
  }

  private newRequestId(): string {
    return `r${++this.requestCount}`;
  }

  /**
   * Stops for good: closes the relay (code 1000), cancels a pending reconnect, fails pending
   * `getOnlines()` with `ABORTED` and rejects a pending `connect()`. Resolves once the socket
   * has closed (bounded: at most 5 s).
   */
  close(): Promise<void> {
    if (this.socketState === 'closed') return this.socketClosedPromise();
    const error = new OfgwError('ABORTED', 'closed by the client');
    const socket = this.socket;
    const done = this.socketClosedPromise();
    this.stop(error);
    if (socket) {
      this.emit('close', { code: NORMAL_CLOSURE, reason: '', error, willReconnect: false });
      socket.close(NORMAL_CLOSURE);
    }
    return done;
  }

  private socketClosedPromise(): Promise<void> {
    if (!this.socket) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      const previous = this.socketClosed;
      this.socketClosed = () => {
        previous?.();
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private open(): void {
    this.socketState = 'connecting';
    this.errorFrame = undefined;
    this.openedAt = undefined;
    let socket: RelaySocket | undefined;
    const handlers = {
      message: (data: string | Uint8Array) => {
        if (this.held) this.held.push(() => socket === this.socket && this.onMessage(data));
        else if (socket === this.socket) this.onMessage(data);
      },
      close: (code: number, reason: string) => {
        if (this.held) return void this.held.push(() => handlers.close(code, reason));
        const current = socket === this.socket;
        if (current) this.socket = undefined;
        if (current && this.socketState !== 'closed') this.onClose(code, reason);
        this.socketClosed?.();
        this.socketClosed = undefined;
      },
    };
    try {
      socket = this.factory(this.attemptUrl(), this.apiKey, handlers);
    } catch (error) {
      // e.g. a URL the runtime refuses; report it as a failed connection.
      const message = error instanceof Error ? error.message : String(error);
      return this.ended(new OfgwError('CLOSED', `could not open a WebSocket: ${message}`, { closeCode: 1006 }));
    }
    this.socket = socket;
    this.connectTimer = setTimeout(() => {
      if (this.socket !== socket || this.socketState !== 'connecting') return;
      this.socket = undefined;
      socket?.close(NORMAL_CLOSURE);
      this.ended(new OfgwError('CONNECT_TIMEOUT', `no confirmation within ${this.connectTimeoutMs} ms`));
    }, this.connectTimeoutMs);
  }

  /** The URL of one connection attempt: the endpoint, the format and where to resume. */
  protected attemptUrl(): string {
    return this.url + deliveryQuery(this.format, this.lastDelivered);
  }

  /** An event is being delivered: every reconnect resumes after it. */
  protected noteDelivered(event: EnvelopeEvent & { id: string }): void {
    this.lastDelivered = event.id;
  }

  /** The confirmation as the SDK exposes it. */
  protected readConfirmation(frame: Record<string, unknown>): Confirmation {
    return readConfirmation(frame, this.modelId);
  }

  private onMessage(data: string | Uint8Array): void {
    const binary = typeof data !== 'string';
    const json = parseJson(data);
    const type = asFrame(json)?.type;
    // A multi-model socket names each model it refused or that left: the socket stays open.
    if (type === 'error' && typeof asFrame(json)?.modelId === 'string') return this.onModelError(json as Record<string, unknown>);
    // In envelope format a refusal comes as a `reply` naming its request: not a raw error frame.
    const gatewayError = this.envelope && type === 'reply' ? undefined : asGatewayErrorFrame(json);
    if (gatewayError && keepsConnection(gatewayError.code)) {
      // Raw format: one frame was refused, nothing ends. (Raw replies name no request, so a
      // pending getOnlines is not failed by it: it cannot be told whose refusal this is.)
      this.emit('error', errorFromFrame(gatewayError));
      return;
    }
    if (gatewayError) {
      // Its close follows; the two become one error then.
      this.errorFrame = gatewayError;
      this.graceTimer ??= setTimeout(() => this.socket?.close(NORMAL_CLOSURE), ERROR_CLOSE_GRACE_MS);
      return;
    }
    const frame = asFrame(json);
    if (this.socketState === 'connecting' && frame?.connected === true) {
      clearTimeout(this.connectTimer);
      this.socketState = 'open';
      this.openedAt = Date.now();
      const reconnected = this.everOpened;
      this.everOpened = true;
      const confirmation = this.readConfirmation(frame);
      this.lastConfirmation = confirmation;
      // The format the gateway confirmed, not the one asked for: a gateway that does not know
      // envelopes confirms raw and is spoken to in raw.
      this.envelope = confirmation.format === 'envelope';
      if (this.envelope) this.requests = new EnvelopeRequests((text) => void this.send(text), () => this.newRequestId());
      else this.onlines = new OnlinesQueue((act) => void this.send(act));
      if (this.firstOutcome) this.holdUntilConnectResolved();
      this.firstOutcome?.resolve();
      this.firstOutcome = undefined;
      this.emit('open', { modelId: this.modelId, reconnected, confirmation });
      return;
    }
    if (this.envelope && frame) return this.onEnvelope(frame);
    if (frame && Array.isArray(frame.online)) this.onlines?.onReply(frame.online as Array<number | string>);
    this.emit('message', { raw: data, binary, json, frame });
  }

  /**
   * What arrives with the first confirmation (a resume's replay comes at once) waits until the
   * code awaiting `connect()` ran and attached its listeners: its continuation runs in
   * microtasks, before this timer. Without it those events would reach only `on` listeners,
   * while `lastEventId` moved past them. Holds one turn of the event loop's reads at most.
   */
  private holdUntilConnectResolved(): void {
    this.held = [];
    setTimeout(() => {
      const held = this.held ?? [];
      this.held = undefined;
      for (const handle of held) handle();
    }, 0);
  }

  private onModelError(frame: Record<string, unknown>): void {
    const modelId = String(frame.modelId);
    const gatewayError = asGatewayErrorFrame(frame);
    const error = gatewayError ? errorFromFrame(gatewayError) : new OfgwError('CLOSED', typeof frame.error === 'string' ? frame.error : 'the model was refused');
    this.emit('modelError', { modelId, error });
  }

  private onEnvelope(frame: Record<string, unknown>): void {
    // Frames name their model (a multi-model socket carries several).
    const read = readEnvelopeFrame(frame, typeof frame.modelId === 'string' ? frame.modelId : this.modelId);
    switch (read.type) {
      case 'event': {
        const { event } = read;
        if (event.id !== undefined) {
          // Ids are unique per model only.
          const key = `${event.modelId} ${event.id}`;
          if (this.recentIds.has(key)) return;
          this.recentIds.add(key);
          // Before the listeners run, so one that saves `lastEventId` saves this event's.
          this.noteDelivered(event as EnvelopeEvent & { id: string });
        }
        this.emit('event', event);
        const raw = event.bytes ?? JSON.stringify(event.data);
        this.emit('message', { raw, binary: event.bytes !== undefined, json: event.bytes ? parseJson(event.bytes) : event.data, frame: event.data, event });
        return;
      }
      case 'status':
        return this.emit('status', read.status);
      case 'gap':
        return this.emit('gap', read.gap);
      case 'reply': {
        const refusal = this.requests?.onReply(read.frame);
        if (refusal) this.emit('error', refusal);
        return;
      }
      case 'unknown':
        // A frame type of a newer gateway: nothing this version can act on.
        return;
    }
  }

  private onClose(code: number, reason: string): void {
    clearTimeout(this.connectTimer);
    clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    const error = errorFromClose(this.errorFrame, code, reason);
    this.errorFrame = undefined;
    if (this.openedAt !== undefined && this.backoff && Date.now() - this.openedAt >= (this.reconnectOptions?.stableAfterMs ?? 0)) {
      this.backoff.reset();
    }
    this.ended(error, code, reason);
  }

  /** A relay (or an attempt at one) ended with `error`: reconnect or stop. */
  private ended(error: OfgwError, code = error.closeCode ?? 1006, reason = error.closeReason ?? ''): void {
    const wasOpen = this.socketState === 'open';
    this.failRequests(error);
    const first = this.firstOutcome;
    const mayRetry = this.reconnectOptions && this.backoff && (first === undefined || first.retry);
    const decision = mayRetry ? decideReconnect(error, this.backoff as Backoff, this.reconnectOptions as ResolvedReconnectOptions) : { retry: false as const };
    if (!decision.retry) {
      if (first) {
        this.firstOutcome = undefined;
        first.reject(error);
      }
      this.stop(error);
      if (wasOpen || !first) {
        this.emit('error', error);
        this.emit('close', { code, reason, error, willReconnect: false });
      }
      return;
    }
    this.socketState = 'reconnecting';
    // A listener may call close() from any of these; stop emitting then.
    this.emit('error', error);
    if ((wasOpen || this.everOpened) && !this.isClosed()) this.emit('close', { code, reason, error, willReconnect: true });
    const attempt = (this.backoff as Backoff).attempt;
    if (!this.isClosed()) this.emit('reconnecting', { attempt, delayMs: decision.delayMs, error });
    if (this.isClosed()) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.isClosed()) this.open();
    }, decision.delayMs);
  }

  private failRequests(error: OfgwError): void {
    this.onlines?.failAll(error);
    this.onlines = undefined;
    this.requests?.failAll(error);
    this.requests = undefined;
    this.envelope = false;
  }

  private isClosed(): boolean {
    return this.socketState === 'closed';
  }

  /** Ends everything: timers, pending requests, the abort listener; `closed` resolves. */
  private stop(error: OfgwError): void {
    this.socketState = 'closed';
    clearTimeout(this.connectTimer);
    clearTimeout(this.graceTimer);
    clearTimeout(this.retryTimer);
    this.socket = undefined;
    this.failRequests(error);
    this.signal?.removeEventListener('abort', this.onAbort);
    if (this.firstOutcome) {
      const first = this.firstOutcome;
      this.firstOutcome = undefined;
      first.reject(error);
    }
    this.finish(error);
  }
}

function checkOptions(options: ClientOptions): { baseUrl: string; modelId: string; apiKey: string; format: ClientFormat; since: string | undefined } {
  if (typeof options !== 'object' || options === null) throw new TypeError('connect(options): options must be an object');
  const { baseUrl, modelId, apiKey } = options;
  if (typeof baseUrl !== 'string' || !/^(wss?|https?):\/\/[^/?#]+/i.test(baseUrl)) {
    throw new TypeError(`connect(options): baseUrl must be a ws://, wss://, http:// or https:// URL of the gateway, got ${JSON.stringify(baseUrl)}`);
  }
  if (typeof modelId !== 'string' || modelId === '') throw new TypeError('connect(options): modelId must be a non-empty string');
  // The key's value is never echoed.
  if (typeof apiKey !== 'string') throw new TypeError('connect(options): apiKey must be a string');
  checkListeners(options.on);
  const format = options.format ?? 'raw';
  if (format !== 'raw' && format !== 'envelope') throw new TypeError(`connect(options): format must be "raw" or "envelope", got ${JSON.stringify(format)}`);
  const since = options.since;
  if (since !== undefined) {
    if (format !== 'envelope') throw new TypeError('connect(options): since needs format: "envelope" (raw frames carry no event ids)');
    if (typeof since !== 'string' || since === '') throw new TypeError('connect(options): since must be a non-empty event id (a lastEventId you saved)');
  }
  const ws = baseUrl.replace(/^http/i, 'ws').replace(/\/+$/, '');
  return { baseUrl: ws, modelId, apiKey, format, since };
}

/** The confirmation frame as the SDK exposes it. */
function readConfirmation(frame: Record<string, unknown>, modelId: string): Confirmation {
  const confirmation: Confirmation = { modelId, format: frame.format === 'envelope' ? 'envelope' : 'raw' };
  if (frame.lastEventId === null || typeof frame.lastEventId === 'string') confirmation.lastEventId = frame.lastEventId;
  if (typeof frame.resumed === 'boolean') confirmation.resumed = frame.resumed;
  return confirmation;
}

/** The `online` list of a get_onlines reply. */
function onlineList(data: unknown): Array<number | string> {
  const online = (data as { online?: unknown } | null | undefined)?.online;
  if (!Array.isArray(online)) throw new OfgwError('REQUEST_FAILED', 'the reply to get_onlines holds no online list');
  return online as Array<number | string>;
}

/** Every event a client emits (a Record, so a new event cannot be left out). */
const CLIENT_EVENTS: Record<keyof ClientEvents, true> = { open: true, message: true, event: true, status: true, gap: true, modelError: true, error: true, close: true, reconnecting: true };

function checkListeners(on: unknown): void {
  if (on === undefined) return;
  if (typeof on !== 'object' || on === null) throw new TypeError('connect(options): on must be an object of listeners, e.g. { reconnecting: (info) => … }');
  for (const [event, listener] of Object.entries(on)) {
    if (!Object.prototype.hasOwnProperty.call(CLIENT_EVENTS, event)) {
      throw new TypeError(`connect(options): on.${event} is not an event (known: ${Object.keys(CLIENT_EVENTS).join(', ')})`);
    }
    if (listener !== undefined && typeof listener !== 'function') throw new TypeError(`connect(options): on.${event} must be a function`);
  }
}

function positiveMs(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number of milliseconds, got ${String(value)}`);
  }
  return value;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** JSON from a text frame, or from a binary one holding UTF-8 JSON (OnlyFans sends both). */
function parseJson(data: string | Uint8Array): unknown {
  try {
    return JSON.parse(typeof data === 'string' ? data : utf8.decode(data));
  } catch {
    return undefined;
  }
}
