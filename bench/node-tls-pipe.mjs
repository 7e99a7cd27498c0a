// The Node.js floor for a wss:// upstream (BENCH_UPSTREAM=wss): bench/node-pipe.mjs with the
// upstream leg over TLS. Each client's plain TCP connection gets one tls.connect to the
// upstream, verified against CAFILE for the name `localhost`, all sockets sharing one secure
// context; no session reuse (each connection a full handshake). No relay logic; the client's
// upgrade passes through unchanged. Modes as in node-pipe.mjs (pipe, bare).
// Usage: node bench/node-tls-pipe.mjs PORT UPSTREAM_PORT pipe|bare CAFILE
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const [port, upstreamPort] = process.argv.slice(2, 4).map(Number);
const mode = process.argv[4] ?? 'pipe';
const secureContext = tls.createSecureContext({ ca: readFileSync(process.argv[5]) });
const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = tls.connect({ host: '127.0.0.1', port: upstreamPort, servername: 'localhost', secureContext, noDelay: true });
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  if (mode === 'bare') {
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => client.write(d));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  } else {
    client.pipe(upstream);
    upstream.pipe(client);
  }
});
server.listen(port, '127.0.0.1', 4096);
process.on('SIGTERM', () => process.exit(0));
