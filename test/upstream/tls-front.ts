/**
 * An https:// proxy for the proxy tests: neither tinyproxy nor dante speaks TLS to its
 * clients, so a TLS terminator goes in front of tinyproxy, with a throwaway certificate.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import type { ProxyServer } from './proxy-servers.js';

export interface TlsFront extends ProxyServer {
  /** Connections the front accepted so far. */
  connections(): number;
}

/** A TLS terminator in front of the plain proxy at `backendPort`; CONNECT stays the proxy's. */
export async function startTlsFront(backendPort: number, credentials: { key: string; cert: string }): Promise<TlsFront> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = tls.createServer(credentials, (front) => {
    accepted++;
    const back = net.connect({ host: '127.0.0.1', port: backendPort });
    for (const s of [front, back]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => {
        sockets.delete(s);
        front.destroy();
        back.destroy();
      });
    }
    front.pipe(back).pipe(front);
  });
  // A client that gives up during the TLS handshake must not become an uncaught error.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    log: () => '',
    connections: () => accepted,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface Certificate {
  key: string;
  cert: string;
  /** The certificate's PEM file, usable as the gateway's `upstreamCaFile`. */
  file: string;
}

/** A throwaway self-signed certificate for `subjectAltName` (e.g. "IP:127.0.0.1"), made with openssl. */
export function selfSignedCertificate(dir: string, name: string, subjectAltName: string): Certificate {
  const key = join(dir, `${name}.key`);
  const file = join(dir, `${name}.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', file, '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=${subjectAltName}`],
    { stdio: 'pipe' },
  );
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(file, 'utf8'), file };
}
