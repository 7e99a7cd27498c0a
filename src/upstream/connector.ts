/**
 * Opens a model's OnlyFans socket (contract §7, onlyfans-ws-protocol.md §1–§3): the stored
 * `wsUrl`, the model's User-Agent, `Origin: https://onlyfans.com`, its cookie when stored,
 * through its proxy when it has one; then the `connect` act with the model's token and a
 * bounded wait for a first frame with `connected: true`.
 *
 * Every failure becomes an {@link UpstreamConnectError} whose message says which stage failed
 * and why, and never contains the token, the cookie or a proxy password.
 */
import http, { type Agent, type ClientRequest, type ClientRequestArgs, type IncomingMessage } from 'node:http';
import https from 'node:https';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import { acceptKey, handshakeKey } from '../wire/frames.js';
import { IGNORING_OWNER, Leg, LegProtocolError, type LegLimits, type LegOwner } from '../wire/leg.js';
import { proxyAgentFor, ProxyError } from './proxy.js';
import { connectResumingSession, upstreamSecureContext } from './tls-context.js';
import { parseJsonObject } from './replies.js';

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

export interface UpstreamLimits extends LegLimits {
  /** Trusted CAs for wss:// upstreams and https:// proxies (see trust.ts); undefined: Node's bundled roots. */
  ca?: string[] | undefined;
  /** TCP, TLS and the upgrade (through the proxy, if any) must finish within this time. */
  connectTimeoutMs: number;
  authTimeoutMs: number;
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
  ready(leg: Leg): void;
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
      agent = proxyAgentFor(target.proxyUrl, { secureContext: upstreamSecureContext(limits.ca), timeoutMs: limits.connectTimeoutMs });
    } catch (err) {
      handlers.failed(new UpstreamConnectError('proxy', err instanceof ProxyError ? err.message : 'The model\'s proxy URL cannot be used'));
      return { abort() {} };
    }
  }

  const key = handshakeKey();
  const secure = url.protocol === 'wss:';
  const defaultPort = secure ? 443 : 80;
  const headers: Record<string, string> = {
    'User-Agent': target.userAgent ?? DEFAULT_USER_AGENT,
    Origin: ONLYFANS_ORIGIN,
  };
  if (target.cookie) headers.Cookie = target.cookie;
  headers['Sec-WebSocket-Version'] = '13';
  headers['Sec-WebSocket-Key'] = key;
  headers.Connection = 'Upgrade';
  headers.Upgrade = 'websocket';
  // No Sec-WebSocket-Extensions: permessage-deflate stays off (contract §4), and frames are
  // relayed as they come, so neither leg may negotiate an extension.
  const options: https.RequestOptions = {
    host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port || defaultPort,
    defaultPort,
    path: url.pathname + url.search,
    headers,
    // Certificate and hostname verification stay on; `ca` only widens the trusted roots. The
    // one secure context that holds them (tls-context.ts) goes to every TLS socket: a direct one,
    // and the one a proxy agent makes through its tunnel from these options.
    ...(secure ? { secureContext: upstreamSecureContext(limits.ca) } : {}),
    ...(agent ? { agent } : { createConnection: secure ? tlsConnect : netConnect }),
  };
  const req = (secure ? https : http).request(options);
  return new Attempt(req, acceptKey(key), url.host, target.wsToken, limits, handlers);
}

/** One connection attempt: the upgrade, the connect act, then the first frame decides. */
class Attempt implements UpstreamAttempt, LegOwner {
  private settled = false;
  private timer: NodeJS.Timeout | undefined;
  private req: ClientRequest | null;
  private leg: Leg | null = null;

  constructor(
    req: ClientRequest,
    private readonly accept: string,
    private readonly host: string,
    private token: string,
    private readonly limits: UpstreamLimits,
    private readonly handlers: UpstreamHandlers,
  ) {
    this.req = req;
    req.on('upgrade', this.onUpgrade);
    req.on('response', this.onResponse);
    req.on('error', this.onError);
    // The deadline runs from when the request has its socket: through a proxy that is once the
    // tunnel is open (the proxy agent bounds the tunnel itself and names the proxy if it hangs).
    req.once('socket', this.onSocket);
    req.end();
  }

  private readonly onSocket = (): void => {
    if (!this.settled) this.timer = setTimeout(this.onConnectTimeout, this.limits.connectTimeoutMs);
  };

  abort(): void {
    if (this.settled) return;
    this.settle();
    this.dispose();
  }

  private readonly onConnectTimeout = (): void => {
    this.fail(new UpstreamConnectError('connect', `Timed out opening the OnlyFans socket at ${this.host}`));
  };

  private readonly onResponse = (res: IncomingMessage): void => {
    res.resume();
    const status = res.statusCode ?? 0;
    // Node treats a 101 without both Upgrade and Connection: Upgrade as a plain response.
    const message =
      status === 101
        ? 'OnlyFans answered the upgrade with 101 but without both Upgrade: websocket and Connection: Upgrade'
        : `OnlyFans answered the upgrade with HTTP ${status} instead of 101`;
    this.fail(new UpstreamConnectError('handshake', message));
  };

  private readonly onUpgrade = (res: IncomingMessage, socket: Socket, head: Buffer): void => {
    this.req = null;
    if (this.settled) {
      socket.destroy();
      return;
    }
    const problem = this.checkUpgrade(res);
    if (problem) {
      socket.destroy();
      this.fail(new UpstreamConnectError('handshake', problem));
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onAuthTimeout, this.limits.authTimeoutMs);
    const leg = new Leg(socket, false, this.limits, this);
    this.leg = leg;
    leg.payloads = true;
    leg.sendText(JSON.stringify({ act: 'connect', token: this.token }));
    this.token = ''; // sent; no reason to keep the secret reachable
    if (head.length > 0) leg.receive(head);
  };

  /** RFC 6455 §4.1: the answer must be for our key and must not add what we did not ask for. */
  private checkUpgrade(res: IncomingMessage): string | undefined {
    if (res.headers.upgrade?.toLowerCase() !== 'websocket') return 'OnlyFans answered the upgrade without Upgrade: websocket';
    if (res.headers['sec-websocket-accept'] !== this.accept) return 'OnlyFans answered the upgrade with a wrong Sec-WebSocket-Accept';
    if (res.headers['sec-websocket-extensions'] !== undefined) return 'OnlyFans answered the upgrade with an extension that was not offered';
    if (res.headers['sec-websocket-protocol'] !== undefined) return 'OnlyFans answered the upgrade with a subprotocol that was not offered';
    return undefined;
  }

  private readonly onAuthTimeout = (): void => {
    this.fail(new UpstreamConnectError('auth', `OnlyFans did not confirm the connect act within ${this.limits.authTimeoutMs} ms`));
  };

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    // Raised by the proxy agent before the tunnel opened; its text already names the cause.
    if (err instanceof ProxyError) return this.fail(new UpstreamConnectError('proxy', err.message));
    this.fail(new UpstreamConnectError(isTlsError(err) ? 'tls' : 'connect', describeSocketError(err, this.host)));
  };

  // ── LegOwner, until the first frame decides ───────────────────────────────

  legPayload(leg: Leg, payload: Buffer): void {
    // The first frame decides. JSON may come in a text or a binary frame: parse, never compare.
    const frame = parseJsonObject(payload);
    if (frame?.connected === true) {
      this.settle();
      leg.payloads = false;
      this.handlers.ready(leg);
    } else if (frame !== undefined && 'error' in frame) {
      const detail = typeof frame.error === 'number' || typeof frame.error === 'string' ? ` (error ${String(frame.error).slice(0, 40)})` : '';
      this.fail(new UpstreamConnectError('auth', `OnlyFans rejected the model's token${detail}`, true));
    } else {
      this.fail(new UpstreamConnectError('auth', 'OnlyFans answered the connect act with an unexpected first frame'));
    }
  }

  legMessage(): boolean {
    return false; // not reached: payloads are delivered until the first frame decides
  }

  legData(): void {}

  legPong(): void {}

  legFlushed(): void {}

  legOverflow(): void {
    this.fail(new UpstreamConnectError('auth', 'OnlyFans stopped reading before confirming the connection'));
  }

  legCloseFrame(_leg: Leg, code: number): void {
    this.closedEarly(code);
  }

  legError(_leg: Leg, err: Error & { code?: string }): void {
    if (err instanceof LegProtocolError) {
      this.fail(new UpstreamConnectError('auth', `OnlyFans answered the connect act with ${err.message}`));
    } else {
      this.fail(new UpstreamConnectError('auth', `The OnlyFans socket failed before confirming the connection: ${err.code ?? 'socket error'}`));
    }
  }

  legClosed(_leg: Leg, code: number): void {
    this.closedEarly(code);
  }

  /** A close frame, or the socket closing, before the first frame decided. */
  private closedEarly(code: number): void {
    this.fail(new UpstreamConnectError('auth', `OnlyFans closed the socket before confirming the connection (close code ${code})`));
  }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
  }

  /** Drops whatever the attempt holds; a late error cannot crash the process. */
  private dispose(): void {
    if (this.req) {
      this.req.on('error', ignoreError);
      this.req.destroy();
      this.req = null;
    }
    if (this.leg) {
      this.leg.owner = IGNORING_OWNER;
      this.leg.terminate();
    }
  }

  private fail(error: UpstreamConnectError): void {
    if (this.settled) return;
    this.settle();
    this.dispose();
    this.handlers.failed(error);
  }
}

// What `ws` passes as createConnection: a plain or TLS socket to the request's host.

function netConnect(options: ClientRequestArgs): Socket {
  return net.connect(options as net.NetConnectOpts);
}

function tlsConnect(options: ClientRequestArgs): Socket {
  const tlsOptions = options as tls.ConnectionOptions;
  const host = tlsOptions.host ?? '';
  // Offers the last TLS session of the same host, name and trust list (tls-context.ts).
  return connectResumingSession({ ...tlsOptions, servername: tlsOptions.servername ?? (net.isIP(host) ? undefined : host) });
}

/** Turns a socket error into text that names the cause and no secret. */
function describeSocketError(err: NodeJS.ErrnoException, host: string): string {
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

function ignoreError(): void {}
