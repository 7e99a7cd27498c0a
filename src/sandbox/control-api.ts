/**
 * HTTP control API under `/_sim/`, on the simulator's own port, for out-of-process use
 * (`ofgw sandbox`, curl). It is a local test tool: it echoes handshake headers verbatim and
 * has no authentication, so it must only listen on loopback or a trusted network.
 *
 *   POST   /_sim/tokens               {"userId":…, "ttlSeconds"?:…}  → {"token","wsUrl"}
 *   POST   /_sim/users/{id}/push      <JSON object frame>             → {"delivered":n}
 *   POST   /_sim/users/{id}/drop      {} | {"code"?:…, "reason"?:…}   → {"dropped":n} (empty body = TCP reset)
 *   POST   /_sim/users/{id}/stream    {"perSecond":n, "count"?:n}     → stream status (replaces a running one)
 *   GET    /_sim/users/{id}/stream                                    → {"running","perSecond","count","sent","nextSeq","delivered"}
 *   DELETE /_sim/users/{id}/stream                                    → stream status, stopped
 *   POST   /_sim/faults               {"fault":{…}, "userId"?:…}      → {"faults":[…]}
 *   DELETE /_sim/faults                                                → {"faults":[]}
 *   POST   /_sim/online               {"ids":[…]}                      → {"online":[…]}
 *   GET    /_sim/handshakes                                            → {"handshakes":[…]}
 *   GET    /_sim/status                                                → connections per user, faults, online ids
 *   GET    /_sim/peaks                                                 → {"<userId>":{"current":n,"peak":n},…}
 *   POST   /_sim/peaks/reset                                           → the same, after the reset
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseFault } from './faults.js';
import type { SimulatorInternals } from './simulator.js';
import { parseStreamOptions } from './streams.js';
import { userKey } from './tokens.js';

const BODY_LIMIT = 64 * 1024;

/** An error with the HTTP status to answer it with. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

type Reply = [status: number, body: unknown];

/** The request handler for `/_sim/…` paths. */
export function createControlHandler(
  target: SimulatorInternals,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    route(target, req).then(
      ([status, body]) => sendJson(res, status, body),
      (error: unknown) => {
        if (error instanceof HttpError) return sendJson(res, error.status, { error: error.message }, error.headers);
        // The simulator signals bad input with RangeError/TypeError; anything else is a bug.
        if (error instanceof RangeError || error instanceof TypeError) {
          return sendJson(res, 400, { error: error.message });
        }
        sendJson(res, 500, { error: error instanceof Error ? error.message : String(error) });
      },
    );
  };
}

async function route(target: SimulatorInternals, req: IncomingMessage): Promise<Reply> {
  const sim = target.simulator;
  const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
  const segments = path.split('/').slice(2); // drop '' and '_sim'
  const method = req.method ?? 'GET';
  const [first, userSegment, action] = segments;

  if (segments.length === 1 && first === 'tokens') {
    allow(method, 'POST');
    const body = asObject(await readJson(req), 'body');
    const userId = userKey(body.userId);
    const { ttlSeconds } = body;
    if (ttlSeconds !== undefined && (typeof ttlSeconds !== 'number' || !Number.isSafeInteger(ttlSeconds))) {
      throw new HttpError(400, 'ttlSeconds must be an integer');
    }
    const token = sim.issueToken(ttlSeconds === undefined ? { userId } : { userId, ttlSeconds });
    return [200, { token, wsUrl: sim.wsUrl() }];
  }

  if (segments.length === 3 && first === 'users' && userSegment !== undefined) {
    const userId = userKey(decodeSegment(userSegment));
    if (action === 'push') {
      allow(method, 'POST');
      // §6.1: every OF frame is one JSON object; it goes out compact like real frames.
      const frame = asObject(await readJson(req), 'frame');
      return [200, { delivered: sim.push(userId, frame) }];
    }
    if (action === 'drop') {
      allow(method, 'POST');
      const body = asObject((await readJson(req, true)) ?? {}, 'body');
      const { code, reason } = body;
      if (code === undefined && reason === undefined) return [200, { dropped: sim.dropConnections(userId, 'reset') }];
      if (code !== undefined && typeof code !== 'number') throw new HttpError(400, 'code must be a number');
      if (reason !== undefined && typeof reason !== 'string') throw new HttpError(400, 'reason must be a string');
      const how = { ...(code === undefined ? {} : { code }), ...(reason === undefined ? {} : { reason }) };
      return [200, { dropped: sim.dropConnections(userId, how) }];
    }
    if (action === 'stream') {
      allow(method, 'GET', 'POST', 'DELETE');
      if (method === 'GET') return [200, sim.streamStatus(userId)];
      if (method === 'DELETE') return [200, sim.stopStream(userId)];
      return [200, sim.startStream(userId, parseStreamOptions(await readJson(req)))];
    }
  }

  if (segments.length === 1 && first === 'faults') {
    allow(method, 'POST', 'DELETE');
    if (method === 'DELETE') {
      sim.clearFaults();
    } else {
      const body = asObject(await readJson(req), 'body');
      const userId = body.userId === undefined ? undefined : userKey(body.userId);
      const fault = parseFault(body.fault, userId);
      sim.setFault(fault, userId === undefined ? undefined : { userId });
    }
    return [200, { faults: target.activeFaults() }];
  }

  if (segments.length === 1 && first === 'online') {
    allow(method, 'POST');
    const { ids } = asObject(await readJson(req), 'body');
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' || typeof id === 'number')) {
      throw new HttpError(400, 'ids must be an array of strings or numbers');
    }
    sim.setOnline(ids as Array<string | number>);
    return [200, { online: target.onlineIds() }];
  }

  if (segments.length === 1 && first === 'handshakes') {
    allow(method, 'GET');
    return [200, { handshakes: sim.handshakes }];
  }

  if (segments.length === 1 && first === 'status') {
    allow(method, 'GET');
    return [
      200,
      {
        wsUrl: sim.wsUrl(),
        connections: target.connectionsByUser(),
        totalConnections: sim.connectionCount(),
        faults: target.activeFaults(),
        online: target.onlineIds(),
      },
    ];
  }

  if (first === 'peaks' && (segments.length === 1 || (segments.length === 2 && segments[1] === 'reset'))) {
    if (segments.length === 1) {
      allow(method, 'GET');
    } else {
      allow(method, 'POST');
      sim.resetPeaks();
    }
    return [200, target.connectionPeaks()];
  }

  throw new HttpError(404, `no control endpoint at ${path}`);
}

function allow(method: string, ...allowed: string[]): void {
  if (!allowed.includes(method)) {
    throw new HttpError(405, `use ${allowed.join(' or ')} here`, { allow: allowed.join(', ') });
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'user id in the path is not valid percent-encoding');
  }
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, `${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Reads and parses a JSON body of at most 64 KiB; an empty body is an error unless `optional`. */
async function readJson(req: IncomingMessage, optional = false): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (declared > BODY_LIMIT) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT) throw tooLarge();
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') {
    if (optional) return undefined;
    throw new HttpError(400, 'request body is empty; expected JSON');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `request body is not valid JSON: ${(error as Error).message}`);
  }
}

function tooLarge(): HttpError {
  // Closing the connection stops the rest of an oversized body from being read.
  return new HttpError(413, `request body exceeds ${BODY_LIMIT} bytes`, { connection: 'close' });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return; // an oversized chunked upload was cut off mid-read
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
