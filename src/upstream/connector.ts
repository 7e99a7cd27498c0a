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
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port || defaultPort);
  const path = url.pathname + url.search;
  // Without a proxy the upgrade is written and read here, on the socket itself: byte for byte
  // the request Node's HTTP client would send (same headers, same order, Host last), at a
  // fraction of its cost per connection. Values Node would refuse take its path, and its error.
  if (!agent && requestIsWritable(path, headers)) {
    const request = upgradeRequest(path, headers, url.host);
    if (secure) {
      // Offers the last TLS session of the same host, name and trust list (tls-context.ts).
      const socket = connectResumingSession({ host, port, servername: net.isIP(host) ? undefined : host, secureContext: upstreamSecureContext(limits.ca) });
      return new DirectAttempt(socket, null, request, acceptKey(key), url.host, target.wsToken, limits, handlers);
    }
    // Plain TCP reads into one buffer shared by every such socket (`onread`): no allocation and
    // no stream machinery per read. Reads are scanned one at a time on this thread and the leg
    // copies whatever outlives the read (Leg.borrowedReads), so one buffer serves them all.
    const reads: BorrowedReads = { sink: null };
    const socket = net.connect({ host, port, onread: { buffer: SHARED_READ_BUFFER, callback: (n) => readInto(reads, n) } });
    return new DirectAttempt(socket, reads, request, acceptKey(key), url.host, target.wsToken, limits, handlers);
  }
  const options: https.RequestOptions = {
    host,
    port,
    defaultPort,
    path,
    headers,
    // Certificate and hostname verification stay on; `ca` only widens the trusted roots. The
    // one secure context that holds them (tls-context.ts) goes to every TLS socket: a direct one,
    // and the one a proxy agent makes through its tunnel from these options.
    ...(secure ? { secureContext: upstreamSecureContext(limits.ca) } : {}),
    ...(agent ? { agent } : { createConnection: secure ? tlsConnect : netConnect }),
  };
  const req = (secure ? https : http).request(options);
  return new RequestAttempt(req, acceptKey(key), url.host, target.wsToken, limits, handlers);
}

/** The read buffer of every plain upstream socket (see {@link connectUpstream}); as large as Node's own per read. */
const SHARED_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Where an `onread` socket's reads go: the attempt until the upgrade is answered, then the leg. */
interface BorrowedReads {
  sink: ((chunk: Buffer) => void) | null;
}

function readInto(reads: BorrowedReads, n: number): boolean {
  reads.sink?.(SHARED_READ_BUFFER.subarray(0, n));
  return true; // false would stop reading; the leg pauses the socket itself
}

/** Header values Node's HTTP client accepts (anything else makes it throw ERR_INVALID_CHAR). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** A request path Node accepts (ERR_UNESCAPED_CHARACTERS otherwise). */
const REQUEST_PATH = /^[\u0021-\u00ff]+$/;

function requestIsWritable(path: string, headers: Record<string, string>): boolean {
  if (!REQUEST_PATH.test(path)) return false;
  for (const name in headers) if (!HEADER_VALUE.test(headers[name] as string)) return false;
  return true;
}

/** The upgrade request as Node's HTTP client writes it: the headers in order, then Host. */
function upgradeRequest(path: string, headers: Record<string, string>, host: string): Buffer {
  let head = `GET ${path} HTTP/1.1\r\n`;
  for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
  return Buffer.from(`${head}Host: ${host}\r\n\r\n`, 'latin1');
}

/**
 * One connection attempt: the upgrade, the connect act, then the first frame decides. The
 * subclass owns the transport until the upgrade is answered, then hands the socket to
 * {@link upgraded}.
 */
abstract class Attempt implements UpstreamAttempt, LegOwner {
  protected settled = false;
  protected timer: NodeJS.Timeout | undefined;
  private leg: Leg | null = null;

  constructor(
    protected readonly accept: string,
    protected readonly host: string,
    private token: string,
    protected readonly limits: UpstreamLimits,
    private readonly handlers: UpstreamHandlers,
  ) {}

  abort(): void {
    if (this.settled) return;
    this.settle();
    this.dispose();
  }

  protected readonly onConnectTimeout = (): void => {
    this.fail(new UpstreamConnectError('connect', `Timed out opening the OnlyFans socket at ${this.host}`));
  };

  /**
   * The upgrade was answered and checked: the socket is a WebSocket now; send the connect act.
   * With `reads`, the socket's reads are borrowed views (see {@link BorrowedReads}) and go to the leg from now on.
   */
  protected upgraded(socket: Socket, head: Buffer, reads: BorrowedReads | null = null): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onAuthTimeout, this.limits.authTimeoutMs);
    const leg = new Leg(socket, false, this.limits, this);
    this.leg = leg;
    if (reads) {
      leg.borrowedReads = true;
      reads.sink = (chunk) => leg.receive(chunk);
    }
    leg.payloads = true;
    leg.sendText(JSON.stringify({ act: 'connect', token: this.token }));
    this.token = ''; // sent; no reason to keep the secret reachable
    if (head.length > 0) leg.receive(head);
  }

  /** RFC 6455 §4.1: the answer must be for our key and must not add what we did not ask for. */
  protected checkUpgrade(headers: Record<string, string | string[] | undefined>): string | undefined {
    if (typeof headers.upgrade !== 'string' || headers.upgrade.toLowerCase() !== 'websocket') return 'OnlyFans answered the upgrade without Upgrade: websocket';
    if (headers['sec-websocket-accept'] !== this.accept) return 'OnlyFans answered the upgrade with a wrong Sec-WebSocket-Accept';
    if (headers['sec-websocket-extensions'] !== undefined) return 'OnlyFans answered the upgrade with an extension that was not offered';
    if (headers['sec-websocket-protocol'] !== undefined) return 'OnlyFans answered the upgrade with a subprotocol that was not offered';
    return undefined;
  }

  protected readonly onError = (err: NodeJS.ErrnoException): void => {
    // Raised by the proxy agent before the tunnel opened; its text already names the cause.
    if (err instanceof ProxyError) return this.fail(new UpstreamConnectError('proxy', err.message));
    this.fail(new UpstreamConnectError(isTlsError(err) ? 'tls' : 'connect', describeSocketError(err, this.host)));
  };

  private readonly onAuthTimeout = (): void => {
    this.fail(new UpstreamConnectError('auth', `OnlyFans did not confirm the connect act within ${this.limits.authTimeoutMs} ms`));
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

  protected settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
  }

  /** Drops whatever the attempt holds; a late error cannot crash the process. */
  protected dispose(): void {
    this.release();
    if (this.leg) {
      this.leg.owner = IGNORING_OWNER;
      this.leg.terminate();
    }
  }

  /** Drops the transport the subclass still holds before the upgrade (nothing once upgraded). */
  protected abstract release(): void;

  protected fail(error: UpstreamConnectError): void {
    if (this.settled) return;
    this.settle();
    this.dispose();
    this.handlers.failed(error);
  }
}

/** Through Node's HTTP client: the path a proxy agent needs (it makes the tunnel for the request). */
class RequestAttempt extends Attempt {
  private req: ClientRequest | null;

  constructor(req: ClientRequest, accept: string, host: string, token: string, limits: UpstreamLimits, handlers: UpstreamHandlers) {
    super(accept, host, token, limits, handlers);
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

  private readonly onResponse = (res: IncomingMessage): void => {
    res.resume();
    this.fail(new UpstreamConnectError('handshake', notUpgradedMessage(res.statusCode ?? 0)));
  };

  private readonly onUpgrade = (res: IncomingMessage, socket: Socket, head: Buffer): void => {
    this.req = null;
    if (this.settled) {
      socket.destroy();
      return;
    }
    const problem = this.checkUpgrade(res.headers);
    if (problem) {
      socket.destroy();
      this.fail(new UpstreamConnectError('handshake', problem));
      return;
    }
    this.upgraded(socket, head);
  };

  protected release(): void {
    if (this.req) {
      this.req.on('error', ignoreError);
      this.req.destroy();
      this.req = null;
    }
  }
}

/** The most response header bytes read before the upgrade answer counts as malformed (Node's default too). */
const MAX_RESPONSE_HEAD = 16 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;

/** A direct socket (TCP, or TLS to a wss:// upstream): the request written and its answer read here. */
class DirectAttempt extends Attempt {
  private socket: Socket | null;
  private pending: Buffer | null = null;

  /** `reads`: the socket reads through `onread` (borrowed buffers), else it emits `data`. */
  constructor(
    socket: Socket,
    private readonly reads: BorrowedReads | null,
    request: Buffer,
    accept: string,
    host: string,
    token: string,
    limits: UpstreamLimits,
    handlers: UpstreamHandlers,
  ) {
    super(accept, host, token, limits, handlers);
    this.socket = socket;
    socket.setNoDelay(true);
    if (reads) reads.sink = this.onData;
    else socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    this.timer = setTimeout(this.onConnectTimeout, limits.connectTimeoutMs);
    socket.write(request); // queued until the socket (and TLS) is up
  }

  private readonly onData = (chunk: Buffer): void => {
    const from = this.pending ? this.pending.length - 3 : 0;
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    const end = data.indexOf(HEAD_END, Math.max(0, from));
    if (end < 0) {
      if (data.length > MAX_RESPONSE_HEAD) return this.fail(new UpstreamConnectError('handshake', `OnlyFans answered the upgrade with more than ${MAX_RESPONSE_HEAD / 1024} KiB of headers`));
      this.pending = data === chunk ? Buffer.from(data) : data; // a read may be a borrowed view
      return;
    }
    this.pending = null;
    const socket = this.socket as Socket;
    const response = parseResponseHead(data.toString('latin1', 0, end));
    if (!response) return this.fail(new UpstreamConnectError('handshake', 'OnlyFans answered the upgrade with a malformed HTTP response'));
    // As Node's client: a 101 is an upgrade only with Upgrade and Connection: Upgrade.
    const connection = response.headers.connection;
    const upgrading =
      response.status === 101 &&
      typeof response.headers.upgrade === 'string' &&
      typeof connection === 'string' &&
      connection.split(',').some((token) => token.trim().toLowerCase() === 'upgrade');
    if (!upgrading) return this.fail(new UpstreamConnectError('handshake', notUpgradedMessage(response.status)));
    const problem = this.checkUpgrade(response.headers);
    if (problem) return this.fail(new UpstreamConnectError('handshake', problem));
    this.detach(socket);
    this.socket = null;
    this.upgraded(socket, data.subarray(end + HEAD_END.length), this.reads);
  };

  /** Closed before the upgrade was answered: what Node's client reports as a hang-up. */
  private readonly onClose = (): void => {
    this.fail(new UpstreamConnectError('connect', describeSocketError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), this.host)));
  };

  private detach(socket: Socket): void {
    if (this.reads) this.reads.sink = null;
    socket.off('data', this.onData);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
  }

  protected release(): void {
    const socket = this.socket;
    if (!socket) return;
    this.socket = null;
    this.detach(socket);
    socket.on('error', ignoreError);
    socket.destroy();
  }
}

/** The answer to an upgrade that did not switch protocols, in words that say what was wrong. */
function notUpgradedMessage(status: number): string {
  // Node treats a 101 without both Upgrade and Connection: Upgrade as a plain response.
  return status === 101
    ? 'OnlyFans answered the upgrade with 101 but without both Upgrade: websocket and Connection: Upgrade'
    : `OnlyFans answered the upgrade with HTTP ${status} instead of 101`;
}

/**
 * The status and headers of a response head (without its blank line), names lower-cased and
 * repeated headers joined with ", " as Node's client does; undefined when it is not HTTP/1.x.
 */
function parseResponseHead(head: string): { status: number; headers: Record<string, string> } | undefined {
  const lines = head.split('\r\n');
  const status = STATUS_LINE.exec(lines[0] as string);
  if (!status) return undefined;
  const headers: Record<string, string> = Object.create(null);
  for (let i = 1; i < lines.length; i++) {
    const line = HEADER_LINE.exec(lines[i] as string);
    if (!line) return undefined;
    const name = (line[1] as string).toLowerCase();
    const value = line[2] as string;
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(status[1]), headers };
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
