/**
 * A model's proxy (onlyfans-ws-protocol.md §8: OnlyFans must see one address per account):
 * http://, https://, socks5:// (the gateway resolves the OnlyFans host) and socks5h:// (the
 * proxy resolves it), with optional user and password, through `https-proxy-agent` and
 * `socks-proxy-agent`.
 *
 * The agents are subclassed so that every failure before the tunnel is open becomes a
 * {@link ProxyError} that names it, within a deadline:
 * - `https-proxy-agent` replays a non-200 CONNECT answer to the HTTP client, so `ws` would
 *   report a 403 from the proxy as if OnlyFans had refused the upgrade;
 * - `ws`'s handshake timeout starts only once the agent hands over a socket, so nothing else
 *   bounds a proxy that accepts TCP and never answers CONNECT or the SOCKS greeting.
 */
import type { Agent, ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { SocksProxyAgent } from 'socks-proxy-agent';
import { explainConnectStatus, explainTunnelError, ProxyError, timedOutText, type ProxyIdentity } from './proxy-errors.js';

export { ProxyError } from './proxy-errors.js';

export interface ProxyOptions {
  /** The shared upstream context (tls-context.ts) for TLS to an https:// proxy and, through the tunnel, to a wss:// upstream. */
  secureContext?: SecureContext | undefined;
  /** The tunnel must be open within this time, or the attempt fails at stage 'proxy'. */
  timeoutMs: number;
}

const PROTOCOLS: Record<string, { protocol: ProxyIdentity['protocol']; defaultPort: number }> = {
  'http:': { protocol: 'HTTP', defaultPort: 80 },
  'https:': { protocol: 'HTTP', defaultPort: 443 },
  'socks5:': { protocol: 'SOCKS5', defaultPort: 1080 },
  'socks5h:': { protocol: 'SOCKS5', defaultPort: 1080 },
};

/**
 * The agent for one upstream connection attempt through the proxy at `proxyUrl`. Create one
 * per attempt: its deadline and abort signal belong to that attempt. Throws a
 * {@link ProxyError} when the URL cannot be used.
 */
export function proxyAgentFor(proxyUrl: string, options: ProxyOptions): Agent {
  const { url, identity } = parseProxyUrl(proxyUrl);
  return identity.protocol === 'HTTP'
    ? new HttpTunnelAgent(url, identity, options)
    : new SocksTunnelAgent(url, identity, options.timeoutMs);
}

function parseProxyUrl(proxyUrl: string): { url: URL; identity: ProxyIdentity } {
  let url: URL;
  try {
    url = new URL(proxyUrl);
  } catch {
    throw new ProxyError('The model\'s proxy URL is not a valid URL');
  }
  const kind = PROTOCOLS[url.protocol];
  // The scheme is not echoed: in "user:password@host" it is the user name.
  if (!kind) throw new ProxyError('The model\'s proxy URL has an unsupported scheme (use http, https, socks5 or socks5h)');
  if (!url.hostname) throw new ProxyError('The model\'s proxy URL has no host');
  let user: string;
  let password: string;
  try {
    // Both agents decode these later; a bad escape would surface as an unexplained URIError.
    user = decodeURIComponent(url.username);
    password = decodeURIComponent(url.password);
  } catch {
    throw new ProxyError('The model\'s proxy URL has badly percent-encoded credentials');
  }
  if (kind.protocol === 'SOCKS5' && (user || password) && !(validSocksField(user) && validSocksField(password))) {
    // RFC 1929 carries each in one length byte and needs both.
    throw new ProxyError('The model\'s SOCKS5 proxy credentials need a user name and a password of 1 to 255 bytes each');
  }
  const address = `${url.hostname}:${url.port || kind.defaultPort}`;
  return { url, identity: { protocol: kind.protocol, address, hasCredentials: Boolean(user || password) } };
}

function validSocksField(value: string): boolean {
  const bytes = Buffer.byteLength(value);
  return bytes >= 1 && bytes <= 255;
}

type ConnectOptions = Parameters<HttpsProxyAgent<string>['connect']>[1];

/** CONNECT through an http:// or https:// proxy; anything but 200 is a {@link ProxyError}. */
class HttpTunnelAgent extends HttpsProxyAgent<string> {
  private readonly identity: ProxyIdentity;
  private readonly timeoutMs: number;
  private readonly cancel: AbortController;

  constructor(url: URL, identity: ProxyIdentity, options: ProxyOptions) {
    const cancel = new AbortController();
    // `signal` reaches the agent's net/tls.connect to the proxy, so the deadline can close a
    // connection that is still waiting for the CONNECT answer.
    super(url, { signal: cancel.signal, ...(options.secureContext ? { secureContext: options.secureContext } : {}) });
    this.identity = identity;
    this.timeoutMs = options.timeoutMs;
    this.cancel = cancel;
  }

  override connect(req: ClientRequest, opts: ConnectOptions): Promise<Socket> {
    return withinDeadline(this.openTunnel(req, opts), this.timeoutMs, this.identity, () => this.cancel.abort());
  }

  private async openTunnel(req: ClientRequest, opts: ConnectOptions): Promise<Socket> {
    let status = 0;
    req.once('proxyConnect', (response: { statusCode: number }) => {
      status = response.statusCode;
    });
    let socket: Socket;
    try {
      socket = await super.connect(req, opts);
    } catch (err) {
      throw new ProxyError(explainTunnelError(err, this.identity));
    }
    if (status !== 200) {
      // The agent returned a stand-in socket that would replay the proxy's answer as if
      // OnlyFans had sent it; fail here instead, naming the proxy.
      socket.destroy();
      throw new ProxyError(explainConnectStatus(status, this.identity));
    }
    return socket;
  }
}

/** A socks5:// or socks5h:// tunnel; a failed negotiation is a {@link ProxyError}. */
class SocksTunnelAgent extends SocksProxyAgent {
  private readonly identity: ProxyIdentity;
  private readonly timeoutMs: number;

  constructor(url: URL, identity: ProxyIdentity, timeoutMs: number) {
    super(url);
    this.identity = identity;
    this.timeoutMs = timeoutMs;
    // The `socks` client's own deadline (30 s by default) closes a half-open negotiation; set
    // here rather than through the constructor's options, which would also become the http
    // Agent's timeout and keep `ws` from applying its handshake timeout.
    this.timeout = timeoutMs;
  }

  override connect(req: ClientRequest, opts: ConnectOptions): Promise<Socket> {
    return withinDeadline(this.openTunnel(req, opts), this.timeoutMs, this.identity, () => {});
  }

  private async openTunnel(req: ClientRequest, opts: ConnectOptions): Promise<Socket> {
    let tunnel: Socket | undefined;
    req.once('proxy', (event: { socket: Socket }) => {
      tunnel = event.socket;
    });
    let socket: Socket;
    try {
      socket = await super.connect(req, opts);
    } catch (err) {
      // socks5:// resolves the OnlyFans host here, before the proxy is involved: that
      // failure is the upstream's, and the connector already explains DNS errors.
      if ((err as NodeJS.ErrnoException | null)?.syscall === 'getaddrinfo') throw err;
      throw new ProxyError(explainTunnelError(err, this.identity));
    }
    // The agent turns its negotiation timeout into an idle timeout on the open tunnel, which
    // would cut a quiet upstream socket: over wss:// the TLS socket wraps this one, and `ws`
    // clears only the outer socket's timer. The negotiation is over, so lift it.
    tunnel?.setTimeout(0);
    tunnel?.removeAllListeners('timeout');
    return socket;
  }
}

/**
 * Settles with the tunnel, or after `timeoutMs` with a timeout {@link ProxyError}; a tunnel
 * that opens too late is closed, since nobody will use it.
 */
function withinDeadline(open: Promise<Socket>, timeoutMs: number, identity: ProxyIdentity, onTimeout: () => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      onTimeout();
      reject(new ProxyError(timedOutText(identity)));
    }, timeoutMs);
    open.then(
      (socket) => {
        clearTimeout(timer);
        if (expired) socket.destroy();
        else resolve(socket);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err); // a no-op after the deadline
      },
    );
  });
}
