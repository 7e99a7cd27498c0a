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
