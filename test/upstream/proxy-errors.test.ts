/**
 * The proxy texts without servers: URLs the gateway refuses before connecting, and the
 * failures the real-server tests cannot provoke (TLS handshakes, SOCKS5 reply codes). No text
 * may carry a user name or a password.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explainConnectStatus, explainTunnelError, type ProxyIdentity } from '../../src/upstream/proxy-errors.js';
import { proxyAgentFor, ProxyError } from '../../src/upstream/proxy.js';

const USER = 'agency-user';
const PASSWORD = 'pa:ss@w/rd';
const HTTP: ProxyIdentity = { protocol: 'HTTP', address: 'proxy.example:3128', hasCredentials: true };
const SOCKS: ProxyIdentity = { protocol: 'SOCKS5', address: 'proxy.example:1080', hasCredentials: true };

function errno(code: string, message = `connect ${code} 10.0.0.1:3128`): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

describe('proxy URLs refused before connecting', () => {
  const refused = (url: string): string => {
    try {
      proxyAgentFor(url, { timeoutMs: 1000 });
    } catch (err) {
      assert.ok(err instanceof ProxyError);
      for (const secret of [USER, PASSWORD, encodeURIComponent(PASSWORD)]) assert.ok(!err.message.includes(secret), err.message);
      return err.message;
    }
    assert.fail(`${url} was accepted`);
  };

  it('not a URL, or an unsupported scheme', () => {
    assert.equal(refused(`http://${USER}:${encodeURIComponent(PASSWORD)}@proxy:99999`), 'The model\'s proxy URL is not a valid URL');
    const unsupported = 'The model\'s proxy URL has an unsupported scheme (use http, https, socks5 or socks5h)';
    assert.equal(refused(`socks4://${USER}:${encodeURIComponent(PASSWORD)}@proxy:1080`), unsupported);
    // Without a scheme, the user name parses as one.
    assert.equal(refused(`${USER}:${PASSWORD}@proxy:3128`), unsupported);
  });

  it('badly percent-encoded credentials', () => {
    assert.equal(refused(`http://${USER}:${PASSWORD.replace(':', '%zz')}x@proxy:3128`), 'The model\'s proxy URL has badly percent-encoded credentials');
  });

  it('SOCKS5 credentials that RFC 1929 cannot carry', () => {
    const rule = 'The model\'s SOCKS5 proxy credentials need a user name and a password of 1 to 255 bytes each';
    assert.equal(refused(`socks5h://${USER}@proxy:1080`), rule);
    assert.equal(refused(`socks5://:${encodeURIComponent(PASSWORD)}@proxy:1080`), rule);
    assert.equal(refused(`socks5://${USER}:${'p'.repeat(256)}@proxy:1080`), rule);
  });

  it('accepts the four schemes, with and without credentials', () => {
    for (const url of ['http://proxy:3128', `https://${USER}:${encodeURIComponent(PASSWORD)}@proxy`, 'socks5://proxy', `socks5h://${USER}:${encodeURIComponent(PASSWORD)}@[::1]:1080`]) {
      assert.doesNotThrow(() => proxyAgentFor(url, { timeoutMs: 1000 }), url);
    }
  });
});

describe('texts for failures before the tunnel opened', () => {
  it('CONNECT answers', () => {
    assert.equal(explainConnectStatus(403, HTTP), 'The proxy proxy.example:3128 refused CONNECT (HTTP 403)');
    assert.equal(explainConnectStatus(407, HTTP), 'Proxy authentication failed at proxy.example:3128 (HTTP 407)');
    assert.equal(explainConnectStatus(407, { ...HTTP, hasCredentials: false }), 'The proxy proxy.example:3128 requires authentication (HTTP 407) and the model\'s proxy URL has no credentials');
    assert.equal(explainConnectStatus(502, HTTP), 'The proxy proxy.example:3128 could not open a tunnel to the OnlyFans host (HTTP 502)');
  });

  it('socket and TLS errors towards the proxy', () => {
    assert.equal(explainTunnelError(errno('ENOTFOUND', 'getaddrinfo ENOTFOUND proxy.example'), HTTP), 'Could not resolve the proxy host proxy.example:3128');
    assert.equal(explainTunnelError(errno('ECONNRESET'), HTTP), 'The proxy proxy.example:3128 reset the connection before the tunnel opened');
    assert.equal(explainTunnelError(errno('EHOSTUNREACH'), SOCKS), 'No route to the proxy proxy.example:1080');
    assert.equal(explainTunnelError(errno('ERR_TLS_CERT_ALTNAME_INVALID', 'Hostname/IP does not match'), HTTP), 'TLS verification of the proxy proxy.example:3128 failed (ERR_TLS_CERT_ALTNAME_INVALID)');
    assert.equal(explainTunnelError(errno('ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number'), HTTP), 'TLS handshake with the proxy proxy.example:3128 failed (ERR_SSL_WRONG_VERSION_NUMBER)');
    // The `socks` library keeps only the socket error's message.
    assert.equal(explainTunnelError(new Error('connect ECONNREFUSED 10.0.0.1:1080'), SOCKS), 'Connection refused by the proxy proxy.example:1080');
  });

  it('the proxy\'s own failures', () => {
    assert.equal(explainTunnelError(new Error('Proxy connection ended before receiving CONNECT response'), HTTP), 'The proxy proxy.example:3128 closed the connection before answering CONNECT');
    assert.equal(explainTunnelError(new Error('Socks5 proxy rejected connection - NetworkUnreachable'), SOCKS), 'The proxy proxy.example:1080 could not reach the OnlyFans host (SOCKS5: network unreachable)');
    assert.equal(explainTunnelError(new Error('Socks5 proxy rejected connection - NotAllowed'), SOCKS), 'The proxy proxy.example:1080 does not allow a connection to the OnlyFans host (SOCKS5: not allowed by its rules)');
    assert.equal(explainTunnelError(new Error('Received invalid Socks5 initial handshake (no accepted authentication type)'), SOCKS), 'The proxy proxy.example:1080 accepts none of the offered authentication methods (SOCKS5)');
    assert.equal(explainTunnelError(new Error('Proxy connection timed out'), SOCKS), 'Timed out connecting through the proxy proxy.example:1080');
    assert.equal(explainTunnelError(new Error('Socket closed'), SOCKS), 'The proxy proxy.example:1080 closed the connection during the SOCKS5 handshake');
    assert.equal(explainTunnelError(new Error('Received invalid Socks5 initial handshake (invalid socks version)'), SOCKS), 'The proxy proxy.example:1080 did not answer like a SOCKS5 proxy');
  });

  it('never copies the error\'s own message', () => {
    const leaky = new Error(`failed for ${USER}:${PASSWORD}`);
    for (const proxy of [HTTP, SOCKS]) {
      const text = explainTunnelError(leaky, proxy);
      assert.equal(text, `Could not open a tunnel through the proxy ${proxy.address} (${proxy.protocol})`);
      assert.ok(!text.includes(PASSWORD) && !text.includes(USER));
    }
  });
});
