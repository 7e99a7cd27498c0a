/**
 * Texts for proxy failures. They name what failed and the proxy's host:port, and never a
 * user name or password: they reach clients (the WS_CONNECT_ERROR frame), the logs and the
 * model's audit trail.
 */

/** What a text may say about a proxy. */
export interface ProxyIdentity {
  /** 'HTTP' for http:// and https:// proxies, 'SOCKS5' for socks5:// and socks5h://. */
  protocol: 'HTTP' | 'SOCKS5';
  /** host:port, the only part of the proxy URL a text shows. */
  address: string;
  /** The URL carries a user name or a password. */
  hasCredentials: boolean;
}

/** A proxy failure before the tunnel opened; its message is safe to show. */
export class ProxyError extends Error {
  override readonly name = 'ProxyError';
}

export function timedOutText(proxy: ProxyIdentity): string {
  return `Timed out connecting through the proxy ${proxy.address}`;
}

/** Explains an answer to CONNECT other than 200 (the tunnel was not opened). */
export function explainConnectStatus(status: number, proxy: ProxyIdentity): string {
  // tinyproxy answers a wrong password with 401 rather than 407.
  if (status === 407 || status === 401) return authenticationText(proxy, `HTTP ${status}`);
  if (status >= 500 && status <= 599) return `The proxy ${proxy.address} could not open a tunnel to the OnlyFans host (HTTP ${status})`;
  return `The proxy ${proxy.address} refused CONNECT (HTTP ${status})`;
}

/**
 * Explains an error raised while opening the tunnel: a socket error towards the proxy, TLS to
 * an https:// proxy, or the SOCKS5 negotiation. Only codes and known library texts are
 * matched; the error's own message is never copied.
 */
export function explainTunnelError(err: unknown, proxy: ProxyIdentity): string {
  const message = err instanceof Error ? err.message : '';
  const code = errorCode(err, message);
  switch (code) {
    case 'ECONNREFUSED':
      return `Connection refused by the proxy ${proxy.address}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `Could not resolve the proxy host ${proxy.address}`;
    case 'ECONNRESET':
    case 'EPIPE':
      return `The proxy ${proxy.address} reset the connection before the tunnel opened`;
    case 'ETIMEDOUT':
      return timedOutText(proxy);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `No route to the proxy ${proxy.address}`;
  }
  if (code && /CERT|SELF_SIGNED|UNABLE_TO_(VERIFY|GET)/.test(code)) return `TLS verification of the proxy ${proxy.address} failed (${code})`;
  if (code && /^(EPROTO|ERR_SSL_|ERR_TLS_)/.test(code)) return `TLS handshake with the proxy ${proxy.address} failed (${code})`;
  return proxy.protocol === 'SOCKS5' ? explainSocksMessage(message, proxy) : explainHttpMessage(message, proxy);
}

/** https-proxy-agent's own failures, recognised by their fixed texts. */
function explainHttpMessage(message: string, proxy: ProxyIdentity): string {
  if (message.startsWith('Proxy connection ended before receiving CONNECT response')) {
    return `The proxy ${proxy.address} closed the connection before answering CONNECT`;
  }
  if (/CONNECT response/.test(message)) return `The proxy ${proxy.address} sent an invalid answer to CONNECT`;
  return `Could not open a tunnel through the proxy ${proxy.address} (HTTP)`;
}

/** SOCKS5 reply codes (RFC 1928 §6) as the `socks` library names them, in words. */
const SOCKS5_REPLIES: Record<string, string> = {
  Failure: 'general failure',
  NetworkUnreachable: 'network unreachable',
  HostUnreachable: 'host unreachable',
  ConnectionRefused: 'connection refused',
  TTLExpired: 'TTL expired',
  CommandNotSupported: 'command not supported',
  AddressNotSupported: 'address type not supported',
};

/** The `socks` library's failures, recognised by their fixed texts (socks 2.x `ERRORS`). */
function explainSocksMessage(message: string, proxy: ProxyIdentity): string {
  if (message === 'Socks5 Authentication failed') return authenticationText(proxy, 'SOCKS5');
  if (message.includes('no accepted authentication type')) {
    return proxy.hasCredentials
      ? `The proxy ${proxy.address} accepts none of the offered authentication methods (SOCKS5)`
      : authenticationText(proxy, 'SOCKS5');
  }
  const rejected = /^Socks5 proxy rejected connection - (\w+)/.exec(message)?.[1];
  if (rejected === 'NotAllowed') return `The proxy ${proxy.address} does not allow a connection to the OnlyFans host (SOCKS5: not allowed by its rules)`;
  if (rejected) return `The proxy ${proxy.address} could not reach the OnlyFans host (SOCKS5: ${SOCKS5_REPLIES[rejected] ?? 'error'})`;
  if (message === 'Proxy connection timed out') return timedOutText(proxy);
  if (message === 'Socket closed') return `The proxy ${proxy.address} closed the connection during the SOCKS5 handshake`;
  if (/invalid Socks5/i.test(message)) return `The proxy ${proxy.address} did not answer like a SOCKS5 proxy`;
  return `Could not open a tunnel through the proxy ${proxy.address} (SOCKS5)`;
}

function authenticationText(proxy: ProxyIdentity, how: string): string {
  return proxy.hasCredentials
    ? `Proxy authentication failed at ${proxy.address} (${how})`
    : `The proxy ${proxy.address} requires authentication (${how}) and the model's proxy URL has no credentials`;
}

/**
 * The error's code. The `socks` library reports a socket error only by its message
 * ("connect ECONNREFUSED 127.0.0.1:1080"), so the code is read from there as well.
 */
function errorCode(err: unknown, message: string): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return /^(?:connect|getaddrinfo|read|write) (E[A-Z_]+)\b/.exec(message)?.[1];
}
