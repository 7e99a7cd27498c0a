// Streaming benchmark upstream for bench/sessions.mjs: a `ws` server speaking the OnlyFans
// handshake (first frame a `connect` act, answered `{"connected": true, "v": "5.4.0"}`, like
// bench/upstream.mjs) that streams numbered events on every authenticated socket while the
// orchestrator says so. Control over plain HTTP on the same port:
//   POST /_start?rate=R&size=S   every authenticated socket (and every later one) sends R events/s
//   POST /_stop                  stops sending; answers the final stats
//   GET  /_stats                 {"sockets", "authed", "streaming", "sent": {path: count}, "total"}
// Each event: {"bench_event":{"seq":N,"sent":T,"path":"P"},"pad":"…"} of about S bytes; `seq`
// counts per request path (1, 2, …, across every socket on that path), `sent` is
// performance.timeOrigin + performance.now() in float ms, comparable across processes of one
// machine. One 5 ms timer sends whatever is due; each socket gets a random phase within its
// period so the sockets do not all fire on the same tick. Frames other than the connect act
// are answered only for `get_onlines` (`{"online":[]}`), otherwise ignored.
// Usage: node bench/stream-upstream.mjs PORT [--tls CERT KEY] [--control-port P]   (prints "READY <port>";
// with --tls the sockets are wss:// and --control-port serves the control endpoints in clear)
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { WebSocketServer } from 'ws';

const argv = process.argv.slice(2);
const port = Number(argv[0] ?? 0);
const tlsAt = argv.indexOf('--tls');
const CONNECTED = '{"connected": true, "v": "5.4.0"}';
const TICK_MS = 5;

/** path → next seq - 1 (events sent on that path). */
const sent = new Map();
/** Authenticated sockets being streamed to: { ws, path, due, periodMs }. */
const streams = new Set();
let streaming = null; // { rate, size, pad }
let sockets = 0;
let total = 0;

function handler(req, res) {
  const url = new URL(req.url, 'http://x');
  const answer = (code, body) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'POST' && url.pathname === '/_start') {
    const rate = Number(url.searchParams.get('rate') ?? 10);
    const size = Number(url.searchParams.get('size') ?? 256);
    if (!(rate > 0 && rate <= 1000) || !(size >= 64 && size <= 65536)) return answer(400, { error: 'rate in (0,1000], size in [64,65536]' });
    streaming = { rate, size, periodMs: 1000 / rate };
    const now = performance.now();
    for (const s of streams) arm(s, now);
    return answer(200, stats());
  }
  if (req.method === 'POST' && url.pathname === '/_stop') {
    streaming = null;
    return answer(200, stats());
  }
  if (req.method === 'GET' && url.pathname === '/_stats') return answer(200, stats());
  answer(404, { error: 'not found' });
}

function stats() {
  return { sockets, authed: streams.size, streaming: streaming !== null, rate: streaming?.rate ?? null, total, sent: Object.fromEntries(sent) };
}

const server = tlsAt >= 0 ? https.createServer({ cert: readFileSync(argv[tlsAt + 1]), key: readFileSync(argv[tlsAt + 2]) }, handler) : http.createServer(handler);
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 1024 * 1024 });

function arm(s, now) {
  s.periodMs = streaming.periodMs;
  s.due = now + Math.random() * s.periodMs; // random phase
}

/** The frame for one event, padded to about `size` bytes. */
function frame(seq, path) {
  const head = `{"bench_event":{"seq":${seq},"sent":${performance.timeOrigin + performance.now()},"path":${JSON.stringify(path)}},"pad":"`;
  const n = Math.max(0, streaming.size - head.length - 2);
  return head + 'x'.repeat(n) + '"}';
}

setInterval(() => {
  if (!streaming) return;
  const now = performance.now();
  for (const s of streams) {
    // Bounded catch-up: at most 50 events per socket per tick.
    for (let k = 0; k < 50 && s.due <= now; k++) {
      if (s.ws.readyState !== 1) break;
      const seq = (sent.get(s.path) ?? 0) + 1;
      sent.set(s.path, seq);
      total++;
      s.ws.send(frame(seq, s.path));
      s.due += s.periodMs;
    }
  }
}, TICK_MS);

wss.on('connection', (ws, req) => {
  sockets++;
  const path = req.url ?? '/';
  let authed = false;
  let entry = null;
  ws.on('error', () => {});
  ws.on('close', () => {
    sockets--;
    if (entry) streams.delete(entry);
  });
  ws.on('message', (data) => {
    const text = data.toString();
    if (!authed) {
      if (!text.includes('"connect"')) {
        ws.send('{"error":1}');
        ws.close(1000, 'authentication failed');
        return;
      }
      authed = true;
      ws.send(CONNECTED);
      entry = { ws, path, due: 0, periodMs: 0 };
      if (streaming) arm(entry, performance.now());
      streams.add(entry);
      return;
    }
    if (text.includes('"get_onlines"')) ws.send('{"online":[]}');
  });
});

server.listen(port, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
// With TLS the control endpoints are on the TLS port too; --control-port P also serves them in clear.
const controlAt = argv.indexOf('--control-port');
if (controlAt >= 0) http.createServer(handler).listen(Number(argv[controlAt + 1]), '127.0.0.1');

process.on('SIGTERM', () => {
  for (const c of wss.clients) c.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});
