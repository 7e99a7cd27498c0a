// Benchmark upstream: a plain `ws` server that speaks the OnlyFans handshake (the first frame
// must be a `connect` act; it is answered with the spaced `{"connected": true, …}` reply) and
// then, per socket:
//   - `{"act":"flood","ms":D,"size":S}` → sends S-byte text frames as fast as the socket takes
//     them for D ms (upstream→client event throughput), self-clocked by write callbacks;
//   - anything else → echoed back unchanged (request/response traffic).
// It is deliberately cheaper than the simulator (no JSON parsing of echoed frames, no received
// log), so it stays out of the way of the relay being measured.
// Usage: node bench/upstream.mjs PORT [--tls CERT KEY]   (prints "READY <port>" once listening)
// With --tls it listens as wss:// (an https server with the given PEM certificate and key,
// TLS session tickets and resumption on, Node's defaults), otherwise as plain ws://.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] ?? 0);
const tlsAt = process.argv.indexOf('--tls');
const CONNECTED = '{"connected": true, "v": "5.4.0"}';
const BATCH = 32;

const wsOptions = { perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 };
let wss;
let server;
if (tlsAt > 0) {
  server = https.createServer({ cert: readFileSync(process.argv[tlsAt + 1]), key: readFileSync(process.argv[tlsAt + 2]) });
  server.on('tlsClientError', () => {});
  wss = new WebSocketServer({ server, ...wsOptions });
  server.listen(port, '127.0.0.1', 4096, () => process.stdout.write(`READY ${server.address().port}\n`));
} else {
  wss = new WebSocketServer({ host: '127.0.0.1', port, ...wsOptions });
}

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  let authed = false;
  ws.on('message', (data, isBinary) => {
    if (!authed) {
      const text = data.toString();
      if (!text.includes('"connect"')) {
        ws.send('{"error":1}');
        ws.close(1000, 'authentication failed');
        return;
      }
      authed = true;
      ws.send(CONNECTED);
      return;
    }
    // Flood requests are tiny; echo everything else without parsing it.
    if (data.length < 100 && data.toString().startsWith('{"act":"flood"')) {
      const { ms, size } = JSON.parse(data.toString());
      flood(ws, Date.now() + ms, frameOf(size));
      return;
    }
    ws.send(data, { binary: isBinary });
  });
});

function frameOf(size) {
  const head = '{"event":"new_message","pad":"';
  const tail = '"}';
  return head + 'x'.repeat(Math.max(0, size - head.length - tail.length)) + tail;
}

function flood(ws, until, frame) {
  const step = () => {
    if (ws.readyState !== 1) return;
    if (Date.now() >= until) {
      ws.send('{"event":"flood_end"}');
      return;
    }
    for (let i = 0; i < BATCH - 1; i++) ws.send(frame);
    ws.send(frame, next); // the next batch once this one reached the kernel
  };
  // A write that completes at once calls back in the same tick: without setImmediate the
  // batches would chain forever and this process would never read again (other sockets'
  // flood requests, close frames) until the flood ended.
  const next = () => setImmediate(step);
  step();
}

if (!server) {
  wss.on('listening', () => {
    process.stdout.write(`READY ${wss.address().port}\n`);
  });
}

process.on('SIGTERM', () => {
  for (const c of wss.clients) c.terminate();
  wss.close(() => (server ? server.close(() => process.exit(0)) : process.exit(0)));
  setTimeout(() => process.exit(0), 2000).unref();
});
