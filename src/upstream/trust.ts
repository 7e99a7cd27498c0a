/**
 * Which certificate authorities a wss:// upstream may present. Verification is always on;
 * an operator may add a CA (a private sandbox, an intercepting corporate proxy) on top of
 * Node's bundled roots — never instead of them, since passing `ca` alone replaces the roots.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { ConfigError } from '../config.js';

/** The CA list for upstream TLS, or undefined to use Node's roots unchanged. */
export function upstreamTrust(caFile: string): string[] | undefined {
  if (!caFile) return undefined;
  let pem: string;
  try {
    pem = readFileSync(caFile, 'utf8');
  } catch (err) {
    throw new ConfigError(`invalid upstreamCaFile: cannot read ${caFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(`invalid upstreamCaFile: ${caFile} holds no PEM certificate`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      throw new ConfigError(`invalid upstreamCaFile: ${caFile} holds a certificate that does not parse`);
    }
  }
  return [...rootCertificates, ...blocks];
}
