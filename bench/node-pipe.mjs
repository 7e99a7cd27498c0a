// The Node.js floor: a TCP proxy on Node's sockets with no relay logic, so the table shows
// what any relay built on net.Socket costs before doing any work. Two modes:
//   pipe: client.pipe(upstream) and back (stream backpressure, the idiomatic way);
//   bare: each read written to the other socket, nothing else (no backpressure: an
//         unbounded buffer if a peer stops reading — a floor to measure, not a relay to run).
// With CAFILE (BENCH_UPSTREAM=wss) the upstream leg is TLS: one tls.connect per client,
// verified against CAFILE for the name `localhost`, all sockets sharing one secure context, no
// session reuse (each connection a full handshake).
// Not a WebSocket endpoint: the client's upgrade passes through to the upstream unchanged.
// Usage: node bench/node-pipe.mjs PORT UPSTREAM_PORT [pipe|bare] [CAFILE]
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const [port, upstreamPort] = process.argv.slice(2, 4).map(Number);
const mode = process.argv[4] ?? 'pipe';
const caFile = process.argv[5];
const secureContext = caFile ? tls.createSecureContext({ ca: readFileSync(caFile) }) : null;
const connectUpstream = () =>
  secureContext
    ? tls.connect({ host: '127.0.0.1', port: upstreamPort, servername: 'localhost', secureContext, noDelay: true })
    : net.connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = connectUpstream();
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
