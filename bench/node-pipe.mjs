// The Node.js floor: a plain TCP pipe (net.Socket.pipe both ways, no parsing, no checks), so
// the table shows what any relay built on Node's sockets costs before doing any work.
// Not a WebSocket endpoint: the client's upgrade passes through to the upstream unchanged.
// Usage: node bench/node-pipe.mjs PORT UPSTREAM_PORT
import net from 'node:net';

const [port, upstreamPort] = process.argv.slice(2).map(Number);
const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.pipe(upstream);
  upstream.pipe(client);
});
server.listen(port, '127.0.0.1', 4096);
process.on('SIGTERM', () => process.exit(0));
