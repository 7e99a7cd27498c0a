/**
 * Opens a model's OnlyFans socket (contract §7, onlyfans-ws-protocol.md §1–§3): the stored
 * `wsUrl`, the model's User-Agent, `Origin: https://onlyfans.com`, its cookie when stored,
 * through its proxy when it has one; then the `connect` act with the model's token and a
 * bounded wait for a first frame with `connected: true`.
 *
 * Every failure becomes an {@link UpstreamConnectError} whose message says which stage failed
 * and why, and never contains the token, the cookie or a proxy password.
 */
import WebSocket from 'ws';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Agent } from 'node:http';
import { proxyAgentFor, ProxyError } from './proxy.js';

/** A recent desktop Chrome, used when a model has no stored User-Agent. */
export const DEFAULT_USER_AGENT =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36';

export const ONLYFANS_ORIGIN = 'https://onlyfans.com';

export interface UpstreamTarget {
  wsUrl: string;
  wsToken: string;
  userAgent: string | null;
  cookie: string | null;
  proxyUrl: string | null;
}

export interface UpstreamLimits {
  /** Trusted CAs for wss:// upstreams and https:// proxies (see trust.ts); undefined: Node's bundled roots. */
  ca?: string[] | undefined;
  connectTimeoutMs: number;
  authTimeoutMs: number;
  maxPayload: number;
  maxFragments: number;
  maxBufferedChunks: number;
  closeTimeoutMs: number;
}

export type UpstreamStage = 'url' | 'proxy' | 'connect' | 'tls' | 'handshake' | 'auth';

/** Why the upstream could not be opened; `stage` names the step, the message explains it. */
export class UpstreamConnectError extends Error {
  readonly stage: UpstreamStage;
  /** OnlyFans explicitly refused the token (an `error` frame), as opposed to a transport failure. */
  readonly tokenRejected: boolean;
  constructor(stage: UpstreamStage, message: string, tokenRejected = false) {
    super(message);
    this.name = 'UpstreamConnectError';
    this.stage = stage;
    this.tokenRejected = tokenRejected;
  }
}

/**
 * Called synchronously from the socket's own event, so the caller can attach its listeners
 * before any frame that followed the `connected` reply in the same read is emitted.
 */
export interface UpstreamHandlers {
  ready(socket: WebSocket): void;
  failed(error: UpstreamConnectError): void;
}

/** Cancels an attempt in progress (the client went away); a no-op once settled. */
export interface UpstreamAttempt {
  abort(): void;
}

/**
 * Starts opening the upstream socket for `target`. Exactly one of `handlers.ready` or
 * `handlers.failed` is called, unless the attempt is aborted first.
 */
export function connectUpstream(target: UpstreamTarget, limits: UpstreamLimits, handlers: UpstreamHandlers): UpstreamAttempt {
  let url: URL;
  try {
    url = new URL(target.wsUrl);
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new Error('bad protocol');
  } catch {
    handlers.failed(new UpstreamConnectError('url', 'The model\'s WebSocket URL is not a valid ws:// or wss:// URL'));
    return { abort() {} };
  }

  let agent: Agent | undefined;
  if (target.proxyUrl) {
    try {
      agent = proxyAgentFor(target.proxyUrl, { ca: limits.ca, timeoutMs: limits.connectTimeoutMs });
    } catch (err) {
      handlers.failed(new UpstreamConnectError('proxy', err instanceof ProxyError ? err.message : 'The model\'s proxy URL cannot be used'));
      return { abort() {} };
    }
  }

  const headers: Record<string, string> = {
    'User-Agent': target.userAgent ?? DEFAULT_USER_AGENT,
    Origin: ONLYFANS_ORIGIN,
  };
  if (target.cookie) headers.Cookie = target.cookie;

  const socket = new WebSocket(url, {
    headers,
    agent,
    perMessageDeflate: false,
    followRedirects: false,
    handshakeTimeout: limits.connectTimeoutMs,
    maxPayload: limits.maxPayload,
    closeTimeout: limits.closeTimeoutMs,
    maxFragments: limits.maxFragments,
    maxBufferedChunks: limits.maxBufferedChunks,
    // Certificate and hostname verification stay on; `ca` only widens the trusted roots.
    ...(limits.ca ? { ca: limits.ca } : {}),
  });
  return new Attempt(socket, url.host, target.wsToken, limits.authTimeoutMs, handlers);
}

/** One connection attempt: listens on the socket until the first frame decides. */
class Attempt implements UpstreamAttempt {
  private settled = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly host: string,
    private token: string,
    private readonly authTimeoutMs: number,
    private readonly handlers: UpstreamHandlers,
  ) {
    socket.on('open', this.onOpen);
    socket.on('message', this.onMessage);
    socket.on('unexpected-response', this.onUnexpectedResponse);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  abort(): void {
    if (this.settled) return;
    this.settle();
    this.socket.on('error', ignoreError);
    this.socket.terminate();
  }

  private readonly onOpen = (): void => {
    this.timer = setTimeout(this.onAuthTimeout, this.authTimeoutMs);
    this.socket.send(JSON.stringify({ act: 'connect', token: this.token }));
    this.token = ''; // sent; no reason to keep the secret reachable
  };

  private readonly onAuthTimeout = (): void => {
    this.fail(new UpstreamConnectError('auth', `OnlyFans did not confirm the connect act within ${this.authTimeoutMs} ms`));
  };

  private readonly onMessage = (data: WebSocket.RawData): void => {
    // The first frame decides. JSON may come in a text or a binary frame: parse, never compare.
    let frame: unknown;
    try {
      frame = JSON.parse((data as Buffer).toString('utf8'));
    } catch {
      frame = undefined;
    }
    if (isObject(frame) && frame.connected === true) {
      this.settle();
      this.handlers.ready(this.socket);
    } else if (isObject(frame) && 'error' in frame) {
      const detail = typeof frame.error === 'number' || typeof frame.error === 'string' ? ` (error ${String(frame.error).slice(0, 40)})` : '';
      this.fail(new UpstreamConnectError('auth', `OnlyFans rejected the model's token${detail}`, true));
    } else {
      this.fail(new UpstreamConnectError('auth', 'OnlyFans answered the connect act with an unexpected first frame'));
    }
  };

  private readonly onUnexpectedResponse = (req: ClientRequest, res: IncomingMessage): void => {
    res.resume();
    req.destroy();
    this.fail(new UpstreamConnectError('handshake', `OnlyFans answered the upgrade with HTTP ${res.statusCode ?? 0} instead of 101`));
  };

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    // Raised by the proxy agent before the tunnel opened; its text already names the cause.
    if (err instanceof ProxyError) return this.fail(new UpstreamConnectError('proxy', err.message));
    this.fail(new UpstreamConnectError(isTlsError(err) ? 'tls' : 'connect', describeSocketError(err, this.host)));
  };

  private readonly onClose = (code: number): void => {
    this.fail(new UpstreamConnectError('auth', `OnlyFans closed the socket before confirming the connection (close code ${code})`));
  };

  private settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.socket.off('open', this.onOpen);
    this.socket.off('message', this.onMessage);
    this.socket.off('unexpected-response', this.onUnexpectedResponse);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
  }

  private fail(error: UpstreamConnectError): void {
    if (this.settled) return;
    this.settle();
    // Keep a listener so a late socket error cannot crash the process.
    this.socket.on('error', ignoreError);
    this.socket.terminate();
    this.handlers.failed(error);
  }
}

/** Turns a socket error into text that names the cause and no secret. */
function describeSocketError(err: NodeJS.ErrnoException, host: string): string {
  if (err.message === 'Opening handshake has timed out') return `Timed out opening the OnlyFans socket at ${host}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return `Connection refused by ${host}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `Could not resolve the OnlyFans host ${host}`;
    case 'ECONNRESET':
      return `Connection to ${host} was reset during the handshake`;
    case 'ETIMEDOUT':
      return `Timed out connecting to ${host}`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `No route to ${host}`;
    default:
      if (isTlsError(err)) return `TLS verification of ${host} failed (${err.code})`;
      return `Could not open the OnlyFans socket at ${host}: ${err.code ?? 'socket error'}`;
  }
}

/** Certificate and hostname failures: verification is on, so these mean "not trusted". */
function isTlsError(err: NodeJS.ErrnoException): boolean {
  return err.code?.startsWith('ERR_TLS') === true || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(err.code ?? '');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function ignoreError(): void {}
