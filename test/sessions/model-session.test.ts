/**
 * ModelSession (sessions-contract.md §1–§3) against the real simulator, a real SQLite store and
 * the in-memory event log: events logged in order with their exact bytes, status entries in
 * order with them, backoff, liveness, the content watchdog, credentials (rejected, refreshed,
 * replaced), the get_onlines queue, fencing and stopping.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UpstreamHealth } from '../../src/gateway/upstream-health.js';
import { createLogger } from '../../src/log.js';
import { startSimulator, type OnlyFansSimulator } from '../../src/sandbox/index.js';
import { MemoryEventLog } from '../../src/sessions/event-log-memory.js';
import { MAX_QUEUED_ENTRIES, ModelSession, RESUMED_REASON, type SessionSettings } from '../../src/sessions/model-session.js';
import type { Fence, LogEntry, NewEntry, Retention } from '../../src/sessions/types.js';
import { openStore } from '../../src/store/index.js';
import { MODEL_EVENT_KINDS, type ModelEventKind, type Store } from '../../src/store/types.js';
import { CredentialRefresher } from '../../src/upstream/credential-refresh.js';
import type { UpstreamLimits } from '../../src/upstream/connector.js';
import { LogCapture, startScriptedUpstream, waitFor } from '../helpers.js';

const SETTINGS: SessionSettings = {
  sessionReconnectMinMs: 40,
  sessionReconnectMaxMs: 1000,
  sessionStableAfterMs: 60_000,
  sessionStaleAfterMs: 0,
  sessionRequestTimeoutMs: 300,
  heartbeatIntervalMs: 60_000,
};

const LIMITS: UpstreamLimits = {
  connectTimeoutMs: 2000,
  authTimeoutMs: 2000,
  maxPayload: 1024 * 1024,
  maxFragments: 1000,
  maxBufferedChunks: 1000,
  closeTimeoutMs: 500,
  lowWaterBytes: 16 * 1024,
  maxBufferedBytes: 1024 * 1024,
};

const RETENTION: Retention = { maxEvents: 10_000, maxAgeMs: 60_000 };

/** The operator's login service: answers each refresh with what `next` holds. */
class RefreshService {
  readonly calls: Record<string, unknown>[] = [];
  next: () => unknown = () => ({});
  private readonly server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      this.calls.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.next()));
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/refresh`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

interface Recorded {
  kind: string;
  reason: string;
}

/** The real store, with its recordModelEvent calls noted (the session kinds may be newer than this store). */
function recording(store: Store): { store: Store; events: Recorded[] } {
  const events: Recorded[] = [];
  const wrapped = new Proxy(store, {
    get(target, prop) {
      if (prop === 'recordModelEvent') {
        return (id: string, kind: ModelEventKind, reason: string) => {
          events.push({ kind, reason });
          return target.recordModelEvent(id, kind, reason);
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: wrapped, events };
}

interface Running {
  session: ModelSession;
  log: MemoryEventLog;
  modelId: string;
  userId: number;
  seen: LogEntry[];
  events: Recorded[];
  lost: string[];
  statuses(): Record<string, unknown>[];
  texts(): string[];
}

let store: Store;
let sim: OnlyFansSimulator;
let dir: string;
let orgId: string;
let service: RefreshService;
let refreshUrl: string;
const logs = new LogCapture();
const logger = createLogger('info', logs);
let nextUser = 7100;
const running: ModelSession[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ofgw-session-'));
  store = await openStore(join(dir, 'ofgw.db'));
  sim = await startSimulator({ invalidCommandCloseMs: false });
  orgId = (await store.createOrganization({ name: 'Session Org' })).id;
  service = new RefreshService();
  refreshUrl = await service.start();
});

after(async () => {
  await Promise.all(running.map((s) => s.stop('test over')));
  await sim.close();
  await service.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A log whose appends wait while `held` (a slow store), to see the session's backpressure. */
class HeldLog extends MemoryEventLog {
  held = false;
  private release: (() => void)[] = [];
  override async append(fence: Fence, entries: readonly NewEntry[], retention: Retention): Promise<LogEntry[]> {
    if (this.held) await new Promise<void>((resolve) => this.release.push(resolve));
    return super.append(fence, entries, retention);
  }
  open(): void {
    this.held = false;
    for (const r of this.release.splice(0)) r();
  }
}

/**
 * A new model (own simulator user) and its session; `token` overrides the model's first token.
 * `after`: a second session of that one's model, on its log, with a newer lease (a takeover).
 */
async function startSession(
  options: { settings?: Partial<SessionSettings>; token?: (userId: number) => string; refresh?: boolean; random?: () => number; log?: MemoryEventLog; wsUrl?: string; after?: Running } = {},
): Promise<Running> {
  const previous = options.after;
  const userId = previous?.userId ?? nextUser++;
  const model = previous ? { id: previous.modelId } : await store.createModel(orgId, { wsUrl: options.wsUrl ?? sim.wsUrl(), wsToken: options.token?.(userId) ?? sim.issueToken({ userId }) });
  const rec = recording(store);
  const refresher = options.refresh ? new CredentialRefresher({ url: refreshUrl, secret: 'session-refresh-secret', timeoutMs: 1000, store }) : undefined;
  const log = previous?.log ?? options.log ?? new MemoryEventLog();
  const seen: LogEntry[] = previous?.seen ?? [];
  if (!previous) log.follow(model.id, { entries: (e) => seen.push(...e), lost() {} });
  const lost: string[] = [];
  const session = new ModelSession({
    modelId: model.id,
    orgId,
    lease: { modelId: model.id, token: previous ? 6 : 5, validUntil: performance.now() + 3_600_000 },
    log,
    store: rec.store,
    health: new UpstreamHealth(store, logger, refresher),
    upstreamLimits: LIMITS,
    settings: { ...SETTINGS, ...options.settings },
    retention: () => RETENTION,
    logger,
    onLost: (reason) => lost.push(reason),
    random: options.random ?? (() => 1),
  });
  running.push(session);
  const statuses = (): Record<string, unknown>[] => seen.filter((e) => e.kind === 'status').map((e) => JSON.parse(e.data.toString()) as Record<string, unknown>);
  return {
    session,
    log,
    modelId: model.id,
    userId,
    seen,
    events: rec.events,
    lost,
    statuses,
    texts: () => seen.map((e) => (e.kind === 'status' ? `status:${(JSON.parse(e.data.toString()) as { upstream: string }).upstream}` : e.data.toString())),
  };
}

function connected(r: Running, count = 1): Promise<void> {
  return waitFor(() => r.statuses().filter((s) => s.upstream === 'connected').length >= count && sim.connectionCount(r.userId) === 1, 5000, `connected #${count}`);
}

/** The session kinds land in the trail once the store knows them; the calls are made either way. */
async function assertTrail(r: Running, kinds: string[]): Promise<void> {
  await waitFor(() => r.events.length >= kinds.length, 5000, 'lifecycle events');
  assert.deepEqual(r.events.map((e) => e.kind), kinds);
  for (const e of r.events) assert.ok(e.reason.length > 0);
  if (kinds.every((k) => (MODEL_EVENT_KINDS as readonly string[]).includes(k))) {
    const trail = (await store.listModelEvents(r.modelId)).map((e) => e.kind as string).filter((k) => k.startsWith('session.'));
    assert.deepEqual(trail.reverse(), kinds);
  }
}

describe('ModelSession', () => {
  it('logs every upstream message after the handshake in order, with its exact bytes and frame type', async () => {
    const r = await startSession();
    await connected(r);
    const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x7b]);
    sim.push(r.userId, { api2_chat_message: { id: 1, text: 'hé' } });
    sim.push(r.userId, '{ "spaced" : true }');
    sim.push(r.userId, binary);
    sim.push(r.userId, '{"connected": true, "v": "5.4.0"}'); // a later connect reply is consumed
    sim.push(r.userId, 'not json at all');
    await waitFor(() => r.seen.length >= 5, 5000, 'four events');
    assert.deepEqual(r.texts().slice(0, 3), ['status:connected', '{"api2_chat_message":{"id":1,"text":"hé"}}', '{ "spaced" : true }']);
    assert.deepEqual(r.seen[3]?.data, binary);
    assert.equal(r.seen[3]?.binary, true);
    assert.equal(r.seen[2]?.binary, false);
    assert.equal(r.seen[4]?.data.toString(), 'not json at all');
    assert.equal(r.seen.length, 5);
    assert.equal(r.session.eventsAppended, 4);
    assert.equal(r.session.state, 'connected');
    // What the log kept is what followers saw, ids increasing.
    const page = await r.log.read(r.modelId, null, 100);
    assert.deepEqual(page.entries.map((e) => e.id), r.seen.map((e) => e.id));
  });

  it('reconnects a dropped upstream with doubling backoff; status entries sit in order with the events; one outage is one down and one restored', async () => {
    const r = await startSession();
    await connected(r);
    sim.push(r.userId, '{"a":1}');
    await waitFor(() => r.seen.length >= 2);

    // Drop 1: back within one attempt (no lifecycle event), after ≥ 1 × min.
    let droppedAt = Date.now();
    sim.dropConnections(r.userId);
    await connected(r, 2);
    const first = sim.handshakes.at(-1)?.at ?? 0;
    assert.ok(first - droppedAt >= SETTINGS.sessionReconnectMinMs - 5, `waited ${first - droppedAt} ms`);
    sim.push(r.userId, '{"b":2}');
    await waitFor(() => r.seen.length >= 5);
    assert.deepEqual(r.events, []);

    // Drop 2: the first attempt fails (reset on connect), so the outage is recorded.
    sim.setFault({ kind: 'reset' }, { userId: r.userId });
    const before = sim.handshakes.length;
    droppedAt = Date.now();
    sim.dropConnections(r.userId);
    await waitFor(() => sim.handshakes.length > before, 5000, 'a failed attempt');
    const failedAt = sim.handshakes.at(-1)?.at ?? 0;
    assert.ok(failedAt - droppedAt >= 2 * SETTINGS.sessionReconnectMinMs - 5, `second backoff ${failedAt - droppedAt} ms`);
    sim.clearFaults();
    await connected(r, 3);
    const reopenedAt = sim.handshakes.at(-1)?.at ?? 0;
    assert.ok(reopenedAt - failedAt >= 4 * SETTINGS.sessionReconnectMinMs - 5, `third backoff ${reopenedAt - failedAt} ms`);
    sim.push(r.userId, '{"c":3}');
    await waitFor(() => r.seen.length >= 8);
    assert.deepEqual(r.texts(), ['status:connected', '{"a":1}', 'status:reconnecting', 'status:connected', '{"b":2}', 'status:reconnecting', 'status:connected', '{"c":3}']);
    assert.match(String(r.statuses()[1]?.reason), /ECONNRESET|code 1006/);
    assert.equal(r.session.reconnects, 2);
    await assertTrail(r, ['session.upstream_down', 'session.upstream_restored']);
    const lines = logs.records().filter((l) => l.modelId === r.modelId).map((l) => l.msg);
    assert.ok(lines.includes('session upstream lost') && lines.includes('session upstream restored'));
  });

  it('a rejected token goes down and stays down, without another attempt, until new credentials arrive', async () => {
    let userId = 0;
    const r = await startSession({
      token: (u) => {
        userId = u;
        sim.setFault({ kind: 'reject-token' }, { userId: u });
        return sim.issueToken({ userId: u });
      },
    });
    try {
      await waitFor(() => r.statuses().length >= 1, 5000, 'the down status');
      assert.equal(r.statuses()[0]?.upstream, 'down');
      assert.match(String(r.statuses()[0]?.reason), /rejected the model's token/);
      assert.equal(r.session.state, 'down');
      assert.ok((await store.getModel(r.modelId))?.credentialsRejectedAt);
      const attempts = sim.handshakes.length;
      // The same rejected credentials: modelChanged() does not try them again.
      r.session.modelChanged();
      await new Promise((resolve) => setTimeout(resolve, 10 * SETTINGS.sessionReconnectMinMs));
      assert.equal(sim.handshakes.length, attempts, 'OnlyFans was not contacted again');
    } finally {
      sim.clearFaults();
    }
    await store.updateModel(r.modelId, { wsToken: sim.issueToken({ userId, ttlSeconds: 3600 }) });
    r.session.modelChanged();
    await connected(r);
    assert.deepEqual(r.texts(), ['status:down', 'status:connected']);
    await assertTrail(r, ['session.upstream_down', 'session.upstream_restored']);
  });

  it('asks the refresh endpoint for credentials when the stored token expired', async () => {
    let fresh = '';
    service.calls.length = 0;
    service.next = () => ({ wsUrl: sim.wsUrl(7), wsToken: fresh });
    const r = await startSession({
      refresh: true,
      token: (u) => {
        fresh = sim.issueToken({ userId: u });
        return sim.issueToken({ userId: u, ttlSeconds: -1 });
      },
    });
    await connected(r);
    assert.equal(service.calls.length, 1);
    assert.deepEqual(service.calls[0], { modelId: r.modelId, orgId, reason: 'expired' });
    assert.equal(sim.handshakes.at(-1)?.path, '/ws3/7', 'connected with the refreshed URL');
    assert.equal((await store.getModelCredentials(r.modelId))?.wsToken, fresh);
  });

  it('with a refresh endpoint, a rejected token is refreshed and tried once more', async () => {
    service.calls.length = 0;
    let replacement = '';
    const r = await startSession({
      refresh: true,
      token: (u) => {
        sim.setFault({ kind: 'reject-token' }, { userId: u });
        replacement = sim.issueToken({ userId: u + 50_000 });
        return sim.issueToken({ userId: u });
      },
    });
    service.next = () => ({ wsUrl: sim.wsUrl(), wsToken: replacement });
    try {
      await waitFor(() => r.statuses().length >= 1 && sim.connectionCount(r.userId + 50_000) === 1, 5000, 'connected with the refreshed token');
    } finally {
      sim.clearFaults();
    }
    assert.deepEqual(r.texts(), ['status:connected']);
    assert.deepEqual(service.calls.map((c) => c.reason), ['rejected']);
  });

  it('a peer that stops answering pings is dropped and reopened', async () => {
    const r = await startSession({ settings: { heartbeatIntervalMs: 80 } });
    await connected(r);
    sim.setFault({ kind: 'no-pong' }, { userId: r.userId });
    try {
      await waitFor(() => r.statuses().length >= 2, 5000, 'the reconnecting status');
    } finally {
      sim.clearFaults();
    }
    assert.equal(r.statuses()[1]?.upstream, 'reconnecting');
    assert.match(String(r.statuses()[1]?.reason), /no pong/);
    await connected(r, 2);
  });

  it('the content watchdog reopens a socket that delivers nothing, and data keeps it open', async () => {
    const r = await startSession({ settings: { sessionStaleAfterMs: 250 } });
    await connected(r);
    const openedAt = Date.now();
    // Data every 50 ms keeps it open past the stale bound.
    for (let i = 0; i < 8; i++) {
      sim.push(r.userId, `{"tick":${i}}`);
      await waitFor(() => r.seen.length >= i + 2);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(Date.now() - openedAt > 250);
    assert.equal(r.statuses().length, 1, 'still the first socket');
    await waitFor(() => r.statuses().length >= 2, 5000, 'the stale reconnect');
    assert.deepEqual(r.statuses()[1], { upstream: 'reconnecting', reason: 'stale' });
    await connected(r, 2);
  });

  it('get_onlines: one on the socket at a time, replies routed oldest first and not logged', async () => {
    const r = await startSession();
    await connected(r);
    sim.setOnline([1, 2, 3]);
    const sentBefore = sim.received.length;
    const replies = await Promise.all([1, 2, 3, 4].map((id) => r.session.request(JSON.stringify({ act: 'get_onlines', ids: [id] }))));
    assert.deepEqual(replies, ['{"online":[1]}', '{"online":[2]}', '{"online":[3]}', '{"online":[]}']);
    const sent = sim.received.slice(sentBefore).map((f) => f.data.toString());
    assert.deepEqual(sent, [1, 2, 3, 4].map((id) => JSON.stringify({ act: 'get_onlines', ids: [id] })));
    assert.deepEqual(r.texts(), ['status:connected'], 'replies are not events');
    // With none in flight, an online frame is an event like any other.
    sim.push(r.userId, '{"online":[9]}');
    await waitFor(() => r.seen.length >= 2);
    assert.equal(r.seen[1]?.data.toString(), '{"online":[9]}');
    assert.equal(r.session.send(JSON.stringify({ act: 'typing', typing_to: 5 })), true);
    await waitFor(() => sim.received.some((f) => f.data.toString().includes('typing_to')));
  });

  it('get_onlines: a timeout fails that request only; its late reply is not taken for the next; the queue is bounded', async () => {
    const r = await startSession();
    await connected(r);
    sim.setOnline([1, 2]);
    sim.setFault({ kind: 'slow-reads' }, { userId: r.userId });
    const first = r.session.request('{"act":"get_onlines","ids":[1]}');
    const second = r.session.request('{"act":"get_onlines","ids":[2]}');
    const waiting = Array.from({ length: 62 }, () => r.session.request('{"act":"get_onlines","ids":[]}'));
    await assert.rejects(r.session.request('{"act":"get_onlines"}'), /64 requests are already waiting/);
    const started = Date.now();
    await assert.rejects(first, /did not reply within 300 ms/);
    assert.ok(Date.now() - started < 1000);
    sim.clearFaults(); // the simulator now reads the first request and answers it late
    assert.equal(await second, '{"online":[2]}');
    for (const w of waiting) assert.equal(await w, '{"online":[]}');
    assert.deepEqual(r.texts(), ['status:connected'], 'the late reply was dropped, not logged');
  });

  it('get_onlines in flight when the socket drops fails; the next waits for the new socket', async () => {
    const r = await startSession();
    await connected(r);
    sim.setFault({ kind: 'slow-reads' }, { userId: r.userId });
    const first = r.session.request('{"act":"get_onlines","ids":[]}');
    const second = r.session.request('{"act":"get_onlines","ids":[]}');
    sim.clearFaults();
    sim.dropConnections(r.userId);
    await assert.rejects(first, /closed before the reply/);
    assert.equal(await second, '{"online":[]}');
    await connected(r, 2);
  });

  it('new credentials on an open socket: reopened with them at once', async () => {
    const r = await startSession({ random: () => 0.999 });
    await connected(r);
    r.session.modelChanged(); // nothing changed: the socket stays
    const replacement = sim.issueToken({ userId: r.userId, ttlSeconds: 7200 });
    await store.updateModel(r.modelId, { wsToken: replacement });
    r.session.modelChanged();
    await connected(r, 2);
    assert.deepEqual(r.texts(), ['status:connected', 'status:reconnecting', 'status:connected']);
    assert.match(String(r.statuses()[1]?.reason), /credentials were replaced/);
    assert.equal((await store.getModelCredentials(r.modelId))?.wsToken, replacement);
  });

  it('a fenced append ends the session: onLost, the socket closed, nothing more logged', async () => {
    const r = await startSession();
    await connected(r);
    await r.log.append({ modelId: r.modelId, token: 6 }, [], RETENTION); // a newer holder was granted
    sim.push(r.userId, '{"after":"takeover"}');
    await waitFor(() => r.lost.length === 1, 5000, 'onLost');
    assert.match(r.lost[0] ?? '', /another node/);
    await waitFor(() => sim.connectionCount(r.userId) === 0, 5000, 'the socket closed');
    assert.deepEqual(r.texts(), ['status:connected']);
    assert.equal(r.session.send('{"act":"typing"}'), false);
    await assert.rejects(r.session.request('{"act":"get_onlines"}'), /stopped/);
  });

  it('stop closes the socket with 1000 and logs down; abort appends nothing', async () => {
    const r = await startSession();
    await connected(r);
    const pending = assert.rejects(r.session.request('{"act":"get_onlines","ids":[]}'), /the session stopped/);
    await r.session.stop('the model was disconnected');
    await pending;
    await waitFor(() => sim.connectionCount(r.userId) === 0, 2000, 'the simulator to see the close');
    assert.deepEqual(r.statuses().at(-1), { upstream: 'down', reason: 'the model was disconnected' });
    assert.equal(r.session.send('{"act":"typing"}'), false);

    const a = await startSession();
    await connected(a);
    const count = a.seen.length;
    a.session.abort('lease lost');
    await waitFor(() => sim.connectionCount(a.userId) === 0, 2000, 'the socket terminated');
    sim.push(a.userId, '{"late":1}');
    await a.session.stop('after abort');
    assert.equal(a.seen.length, count);
  });

  it('a session continuing a log an earlier one wrote (its node killed, or restarted) tells reconnecting before its first connected', async () => {
    const killed = await startSession();
    await connected(killed);
    sim.push(killed.userId, '{"before":"the kill"}');
    await waitFor(() => killed.seen.length >= 2, 5000, 'the event logged');
    killed.session.abort('node killed'); // a SIGKILLed node tells nothing more
    await waitFor(() => sim.connectionCount(killed.userId) === 0, 2000, 'the socket gone');
    const next = await startSession({ after: killed });
    await connected(next, 2);
    assert.deepEqual(next.texts(), ['status:connected', '{"before":"the kill"}', 'status:reconnecting', 'status:connected']);
    assert.deepEqual(next.statuses()[1], { upstream: 'reconnecting', reason: RESUMED_REASON });
  });

  it('appends that fall behind pause reading the upstream, and nothing is dropped', async () => {
    const log = new HeldLog();
    const r = await startSession({ log });
    await connected(r);
    log.held = true;
    const count = MAX_QUEUED_ENTRIES + 500;
    for (let i = 0; i < count; i++) sim.push(r.userId, `{"n":${i}}`);
    await waitFor(() => r.session.readingPaused, 5000, 'reading paused');
    log.open();
    await waitFor(() => r.seen.length === count + 1, 10_000, 'every event logged');
    assert.equal(r.session.readingPaused, false);
    assert.deepEqual(r.seen.slice(1).map((e) => e.data.toString()), Array.from({ length: count }, (_, i) => `{"n":${i}}`));
    assert.equal(r.session.eventsAppended, count);
  });

  it('stop sends OnlyFans a 1000 close and waits for it', async () => {
    const upstream = await startScriptedUpstream();
    try {
      const r = await startSession({ wsUrl: upstream.url });
      await waitFor(() => r.statuses().length >= 1, 5000, 'connected');
      await r.session.stop('operator');
      await waitFor(() => upstream.closes.length > 0, 2000, 'the peer to see the close');
      assert.deepEqual(upstream.closes, [{ code: 1000, reason: '' }]);
    } finally {
      await upstream.close();
    }
  });

  it('no secret reaches a log line', () => {
    const text = logs.lines.join('\n');
    assert.ok(!/eyJ[\w-]+\.[\w-]+\.[\w-]+/.test(text), 'no token in the logs');
    assert.ok(!text.includes('session-refresh-secret'));
  });
});
