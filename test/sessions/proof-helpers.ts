/**
 * For the proofs with real processes (issue 14 point 8): the simulator as its own `ofgw sandbox`
 * process (a killed gateway does not take it along), envelope clients that record every event
 * id and stream number they get and resume with `since` by themselves, and the check of what
 * each client got against the model's whole log.
 */
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { streamSequence } from '../../src/sandbox/events.js';
import type { StreamStatus } from '../../src/sandbox/streams.js';
import { compareIds, type EventLog, type LogEntry } from '../../src/sessions/types.js';
import { waitFor } from '../helpers.js';
import { spawnCli, type Spawned } from '../cli/cli-helpers.js';

/** The simulator in a process of its own, driven through its control API. */
export interface SandboxProcess {
  process: Spawned;
  wsUrl: string;
  token: string;
  userId: string;
  control(method: string, path: string, body?: unknown): Promise<unknown>;
  stream(): Promise<StreamStatus>;
  /** Sockets of the user open now. */
  connections(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts `ofgw sandbox` on a free port with no generated events (only what the test asks for). */
export async function startSandboxProcess(userId: string): Promise<SandboxProcess> {
  const proc = spawnCli(['sandbox', '--port', '0', '--interval-ms', '0', '--user-id', userId, '--json']);
  let exited = false;
  void proc.exited.then(() => (exited = true));
  await waitFor(
    () => {
      if (exited) throw new Error(`ofgw sandbox exited early:\n${proc.stderr()}`);
      return proc.stdout().includes('\n');
    },
    15_000,
    'ofgw sandbox to listen',
  );
  const info = JSON.parse(proc.stdout().split('\n')[0] as string) as { wsUrl: string; token: string; controlUrl: string };
  const control = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${info.controlUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const answer = (await res.json()) as unknown;
    assert.equal(res.status, 200, `${method} /_sim/${path}: ${JSON.stringify(answer)}`);
    return answer;
  };
  return {
    process: proc,
    wsUrl: info.wsUrl,
    token: info.token,
    userId,
    control,
    stream: async () => (await control('GET', `users/${userId}/stream`)) as StreamStatus,
    connections: async () => {
      const status = (await control('GET', 'status')) as { connections: Record<string, number> };
      return status.connections[userId] ?? 0;
    },
    async stop() {
      if (!exited) proc.child.kill('SIGTERM');
      await proc.exited;
    },
  };
}

/** One event as a client got it. */
export interface Seen {
  id: string;
  /** The stream number, or undefined for another frame (the end marker). */
  seq: number | undefined;
  event: string | null;
}

export interface RecorderOptions {
  /** The model's WebSocket URL on the node to use now (it may change when a node dies). */
  url: () => string;
  apiKey: string;
  /** Pause before reconnecting after a close, in ms (random per call is fine). */
  reconnectDelayMs: () => number;
  /** Connection attempts in all, a bound on a gateway that never comes back. */
  maxAttempts?: number;
}

/**
 * An envelope client that records every event it gets and, whenever its socket closes, opens a
 * new one with `since=<its last event id>` (its first confirmation's `lastEventId` before any
 * event), until stopped.
 */
export class Recorder {
  readonly seen: Seen[] = [];
  /** The first confirmation's lastEventId: the client wants every event logged after it. */
  start: string | null | undefined;
  confirmations = 0;
  resumedFalse = 0;
  statuses = 0;
  readonly gaps: unknown[] = [];
  /** Frames out of order or unexpected, kept to fail the test with. */
  readonly problems: string[] = [];
  /** When each confirmation came (Date.now()) and the URL it came on. */
  readonly connects: { at: number; url: string }[] = [];
  private socket: WebSocket | undefined;
  private stopped = false;
  private attempts = 0;
  private timer: NodeJS.Timeout | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    readonly name: string,
    private readonly options: RecorderOptions,
  ) {}

  /** The `since` to resume from: the last event id, else the first confirmation's. */
  get resumeFrom(): string | null | undefined {
    return this.seen[this.seen.length - 1]?.id ?? this.start;
  }

  get open(): boolean {
    return this.socket?.readyState === WebSocket.OPEN && this.confirmations > 0;
  }

  /** Opens the first socket; resolves at its confirmation. */
  async begin(): Promise<void> {
    this.connect();
    await this.until(() => this.confirmations > 0, 15_000, `${this.name}'s confirmation`);
  }

  /** Cuts the socket without a close handshake (a client that crashed); it reconnects by itself. */
  kill(): void {
    this.socket?.terminate();
  }

  /** Resolves when `condition` holds, checked on every frame and close. */
  until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return waitFor(condition, timeoutMs, what, (wake) => this.waiters.push(wake));
  }

  /** Stops reconnecting and closes the socket. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.close();
      setTimeout(() => socket.terminate(), 2000).unref();
    });
  }

  private connect(): void {
    if (this.stopped) return;
    if (++this.attempts > (this.options.maxAttempts ?? 500)) {
      this.problems.push(`gave up after ${this.attempts - 1} connection attempts`);
      return this.wake();
    }
    const since = this.resumeFrom;
    if (this.start !== undefined && since === null) this.problems.push('no id to resume from (the log was empty at the first confirmation)');
    const url = `${this.options.url()}?format=envelope${since ? `&since=${encodeURIComponent(since)}` : ''}`;
    const socket = new WebSocket(url, { perMessageDeflate: false, headers: { 'X-API-Key': this.options.apiKey } });
    this.socket = socket;
    socket.on('message', (data: Buffer) => this.onFrame(data.toString('utf8'), url));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.wake();
      if (!this.stopped) this.timer = setTimeout(() => this.connect(), this.options.reconnectDelayMs());
    });
  }

  private onFrame(text: string, url: string): void {
    const frame = JSON.parse(text) as Record<string, unknown>;
    if (frame.connected === true) {
      this.confirmations++;
      this.connects.push({ at: Date.now(), url });
      if (this.start === undefined) this.start = (frame.lastEventId as string | null) ?? null;
      if (frame.resumed !== true && this.confirmations > 1) this.resumedFalse++;
    } else if (frame.type === 'event') {
      const id = String(frame.id);
      const last = this.seen[this.seen.length - 1];
      if (last && compareIds(id, last.id) <= 0) this.problems.push(`event ${id} after ${last.id}`);
      this.seen.push({ id, seq: streamSequence(frame.data), event: (frame.event as string | null) ?? null });
    } else if (frame.type === 'status') {
      this.statuses++;
    } else if (frame.type === 'gap') {
      this.gaps.push(frame);
    } else {
      this.problems.push(`unexpected frame ${text.slice(0, 200)}`);
    }
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** Every entry of the model's log, oldest first (bounded pages). */
export async function readWholeLog(log: EventLog, modelId: string): Promise<LogEntry[]> {
  const all: LogEntry[] = [];
  let after: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const p = await log.read(modelId, after, 1000);
    assert.equal(p.gap, null, 'reading the whole log from its start has no gap');
    all.push(...p.entries);
    const last = p.entries[p.entries.length - 1];
    if (!p.more || !last) return all;
    after = last.id;
  }
  throw new Error('the log has more than 1,000 pages');
}

/** The logged events (status entries left out) with their stream numbers. */
export function loggedEvents(entries: readonly LogEntry[]): Seen[] {
  return entries
    .filter((e) => e.kind === 'event')
    .map((e) => {
      const text = e.data.toString('utf8');
      let event: string | null = null;
      try {
        event = Object.keys(JSON.parse(text) as object)[0] ?? null;
      } catch {
        // not JSON: no key
      }
      return { id: e.id, seq: streamSequence(text), event };
    });
}

/**
 * The proof for one client: it got every logged event after its first confirmation, exactly
 * once and in order, nothing else, and no gap.
 */
export function assertSawEverything(recorder: Recorder, events: readonly Seen[]): void {
  assert.deepEqual(recorder.problems, [], `${recorder.name}: problems`);
  assert.deepEqual(recorder.gaps, [], `${recorder.name}: gaps`);
  assert.notEqual(recorder.start, undefined, `${recorder.name} was confirmed`);
  const start = recorder.start ?? null;
  const expected = events.filter((e) => start === null || compareIds(e.id, start) > 0).map((e) => e.id);
  const got = recorder.seen.map((e) => e.id);
  const ids = new Set(got);
  assert.equal(ids.size, got.length, `${recorder.name}: no event twice`);
  const missing = expected.filter((id) => !ids.has(id));
  assert.deepEqual(missing.slice(0, 10), [], `${recorder.name}: ${missing.length} logged events missing`);
  assert.deepEqual(got, expected, `${recorder.name}: every logged event after its first confirmation, in order`);
}

/**
 * Stream numbers: those logged are increasing, were all sent to a socket by the simulator, and
 * those missing are the ones sent while no socket was open plus any in flight when a socket
 * died. Returns the counts for the diagnostic output.
 */
export function streamAccount(events: readonly Seen[], stream: StreamStatus): {
  sent: number;
  toASocket: number;
  toNoSocket: number;
  logged: number;
  lostInFlight: number;
} {
  const seqs = events.map((e) => e.seq).filter((s): s is number => s !== undefined);
  for (let i = 1; i < seqs.length; i++) assert.ok((seqs[i] as number) > (seqs[i - 1] as number), `stream numbers increase in the log: ${seqs[i - 1]} then ${seqs[i]}`);
  const delivered = (n: number): boolean => stream.delivered.some(([a, b]) => n >= a && n <= b);
  for (const n of seqs) assert.ok(delivered(n), `stream number ${n} is logged but the simulator sent it to no socket`);
  const sent = stream.nextSeq - 1;
  const toASocket = stream.delivered.reduce((sum, [a, b]) => sum + b - a + 1, 0);
  return { sent, toASocket, toNoSocket: sent - toASocket, logged: seqs.length, lostInFlight: toASocket - seqs.length };
}

/**
 * Each hole in the logged stream numbers is told by a `reconnecting` or `down` status entry
 * between the two events around it (contract §2: losses are said, never hidden), also when
 * the node that wrote the first of them was killed.
 */
export function assertHolesAreTold(entries: readonly LogEntry[]): number {
  let holes = 0;
  let lastSeq: number | undefined;
  let statusSince = false;
  for (const entry of entries) {
    if (entry.kind === 'status') {
      statusSince ||= (JSON.parse(entry.data.toString('utf8')) as { upstream: string }).upstream !== 'connected';
      continue;
    }
    const seq = streamSequence(entry.data.toString('utf8'));
    if (seq === undefined) continue;
    if (lastSeq !== undefined && seq !== lastSeq + 1) {
      holes++;
      assert.ok(statusSince, `stream numbers ${lastSeq + 1}–${seq - 1} are missing from the log with no reconnecting or down status before ${entry.id}`);
    }
    lastSeq = seq;
    statusSince = false;
  }
  return holes;
}

/** A small seeded generator, so a failing run's timings can be replayed (the seed is printed). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Polls an asynchronous condition every 50 ms until it holds or `timeoutMs` passes. */
export async function pollUntil(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000; i++) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}
