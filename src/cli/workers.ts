/**
 * `ofgw serve --workers N` (N > 1): the primary of N gateway processes on one port.
 *
 * The primary opens the store once (migrations, the key file, the sandbox seed) and runs the
 * sandbox simulator itself; then it forks N workers with node:cluster (./worker.ts). Each
 * worker runs a whole gateway with the primary's configuration; node:cluster shares the
 * listening socket (the primary accepts and hands connections round-robin to the workers),
 * so a port 0 picked once is the port of every worker. The workers coordinate limits,
 * revocations and relay listings through Redis, like separate nodes.
 *
 * Signals to the primary:
 * - SIGTERM / SIGINT: every worker drains (relays close with 1012) and exits; then the
 *   primary exits 0 (1 if a worker had to be killed), within shutdownTimeoutMs + a margin.
 *   A second signal kills the workers at once.
 * - SIGHUP: rolling restart. For each worker in turn: fork its replacement, wait until it
 *   listens, then drain the old one (its clients get 1012 and reconnect to the others) and
 *   wait for it to exit. A replacement that cannot start stops the restart and keeps the old
 *   worker. A SIGHUP during a restart runs one more restart after it.
 *
 * A worker that dies unexpectedly is replaced after a backoff that doubles with each
 * failure in a row (250 ms up to 30 s); after 10 in a row the primary stops the gateway and
 * exits 1 rather than crash-loop forever. A worker that cannot start during the first start
 * fails the start with that worker's error.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { ConfigError, type GatewayConfig } from '../config.js';
import type { Logger } from '../log.js';
import { aggregateText, RetiredTotals } from './cluster-metrics.js';
import type { FdLimit } from './fd-limit.js';
import { baseUrlOf, descriptorBudget, listeningFields, openServeStore, prepareSandbox, warnOnSmallBudget, type PreparedSandbox } from './gateway-process.js';
import { isOfgwMessage, type FromWorker, type MetricsSnapshot, type ToWorker } from './worker-protocol.js';

const WORKER_ENTRY = fileURLToPath(new URL('./worker.js', import.meta.url));

/** A worker that has not listened within this is killed (store, Redis and listen included). */
export const START_TIMEOUT_MS = 30_000;
/** Beyond shutdownTimeoutMs, what a draining worker gets to close Redis and the store and exit. */
export const EXIT_MARGIN_MS = 5_000;
/** A worker that lived this long after listening resets its slot's failure count. */
export const STABLE_MS = 10_000;
export const BACKOFF_BASE_MS = 250;
export const BACKOFF_MAX_MS = 30_000;
/** Unexpected exits in a row (each within STABLE_MS of listening) before the primary gives up. */
export const MAX_FAILURES_IN_A_ROW = 10;
/** How long the primary waits for each worker's metrics when answering a scrape. */
export const SNAPSHOT_TIMEOUT_MS = 2_000;

interface Listening {
  address: string;
  port: number;
  fdLimit: FdLimit | undefined;
}

interface Exit {
  code: number | null;
  signal: string | null;
}

/** Raised when a worker reports that its gateway could not start. */
class WorkerStartError extends Error {
  constructor(
    message: string,
    readonly config: boolean,
  ) {
    super(message);
    this.name = 'WorkerStartError';
  }
}

type WorkerState = 'starting' | 'listening' | 'draining' | 'stopped' | 'exited';

/** The primary's view of one worker process. */
class WorkerProcess {
  state: WorkerState = 'starting';
  readonly pid: number;
  listenedAt: number | undefined;
  /** Asked to exit (drain, shutdown): its exit is not a failure to replace. */
  expectedExit = false;
  /** Its values were folded into the retired totals (it sent its last ones, or exited). */
  retired = false;
  /** The last values it sent (a scrape, or its final ones). */
  lastMetrics: MetricsSnapshot | undefined;
  readonly listening: Promise<Listening>;
  readonly exited: Promise<Exit>;
  private resolveListening!: (info: Listening) => void;
  private rejectListening!: (err: Error) => void;
  private resolveExited!: (exit: Exit) => void;
  private readonly startTimer: NodeJS.Timeout;
  private nextSnapshotId = 1;
  private readonly snapshots = new Map<number, (snapshot: MetricsSnapshot | undefined) => void>();

  constructor(
    readonly worker: Worker,
    readonly slot: number,
  ) {
    this.pid = worker.process.pid ?? 0;
    this.listening = new Promise((resolve, reject) => {
      this.resolveListening = resolve;
      this.rejectListening = reject;
    });
    // Awaited by whoever needs it; a start failure is handled where it matters.
    this.listening.catch(() => undefined);
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    this.startTimer = setTimeout(() => {
      this.rejectListening(new Error(`worker ${slot} (pid ${this.pid}) did not listen within ${START_TIMEOUT_MS} ms`));
      this.kill();
    }, START_TIMEOUT_MS);
  }

  send(message: ToWorker): void {
    if (this.state === 'exited' || !this.worker.isConnected()) return;
    this.worker.send(message);
  }

  markListening(info: Listening): void {
    if (this.state !== 'starting') return;
    clearTimeout(this.startTimer);
    this.state = 'listening';
    this.listenedAt = Date.now();
    this.resolveListening(info);
  }

  markFailed(message: string, config: boolean): void {
    clearTimeout(this.startTimer);
    this.rejectListening(new WorkerStartError(`worker ${this.slot} could not start: ${message}`, config));
  }

  markExited(exit: Exit): void {
    clearTimeout(this.startTimer);
    this.state = 'exited';
    this.rejectListening(new Error(`worker ${this.slot} (pid ${this.pid}) exited before listening (${describeExit(exit)})`));
    for (const resolve of this.snapshots.values()) resolve(undefined);
    this.snapshots.clear();
    this.resolveExited(exit);
  }

  /** Closes every relay with 1012, then exits. */
  drain(): void {
    this.expectedExit = true;
    if (this.state === 'exited' || this.state === 'stopped') return;
    if (this.state !== 'starting') this.state = 'draining';
    if (this.worker.isConnected()) this.send({ ofgw: 'drain' });
    else this.worker.process.kill('SIGTERM');
  }

  kill(): void {
    if (this.state !== 'exited') this.worker.process.kill('SIGKILL');
  }

  /** Its own metrics, or undefined if it does not answer within SNAPSHOT_TIMEOUT_MS. */
  snapshot(): Promise<MetricsSnapshot | undefined> {
    if (this.state !== 'listening' && this.state !== 'draining') return Promise.resolve(undefined);
    const id = this.nextSnapshotId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.snapshots.delete(id);
        resolve(undefined);
      }, SNAPSHOT_TIMEOUT_MS);
      this.snapshots.set(id, (snapshot) => {
        clearTimeout(timer);
        resolve(snapshot);
      });
      this.send({ ofgw: 'snapshot-request', id });
    });
  }

  onSnapshot(id: number, snapshot: MetricsSnapshot | undefined): void {
    const resolve = this.snapshots.get(id);
    if (!resolve) return;
    this.snapshots.delete(id);
    if (snapshot) this.lastMetrics = snapshot;
    resolve(snapshot);
  }
}

function describeExit({ code, signal }: Exit): string {
  return signal ? `signal ${signal}` : `code ${String(code)}`;
}

interface Slot {
  id: number;
  /** The worker serving this slot (undefined while a replacement waits for its backoff). */
  current: WorkerProcess | undefined;
  failures: number;
  timer: NodeJS.Timeout | undefined;
}

/** Forks, watches, replaces and drains the workers. */
class Supervisor {
  readonly processes = new Set<WorkerProcess>();
  private readonly slots: Slot[];
  private started = false;
  private stopping: Promise<boolean> | undefined;
  private rolling: Promise<void> | undefined;
  private rollAgain = false;
  private readonly retired = new RetiredTotals();
  private readonly exits = { drained: 0, unexpected: 0 };
  /** Set when the supervisor itself gives up (a worker failing in a row). */
  onGiveUp: (() => void) | undefined;

  constructor(
    private readonly config: GatewayConfig,
    private readonly logger: Logger,
  ) {
    this.slots = Array.from({ length: config.workers }, (_, i) => ({ id: i + 1, current: undefined, failures: 0, timer: undefined }));
    cluster.setupPrimary({ exec: WORKER_ENTRY, args: [], silent: false });
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  pids(): number[] {
    return this.slots.map((s) => s.current?.pid).filter((p): p is number => p !== undefined);
  }

  /** Forks every worker and resolves once all listen; rejects with the first one's failure. */
  async start(): Promise<Listening[]> {
    for (const slot of this.slots) slot.current = this.fork(slot.id);
    const listening = await Promise.all(this.slots.map((s) => (s.current as WorkerProcess).listening));
    this.started = true;
    return listening;
  }

  private fork(slot: number): WorkerProcess {
    const worker = cluster.fork();
    const proc = new WorkerProcess(worker, slot);
    this.processes.add(proc);
    worker.on('message', (message: unknown) => this.onMessage(proc, message));
    // A send to a worker that just died; its exit is handled below.
    worker.on('error', (err: Error) => this.logger.warn({ worker: slot, workerPid: proc.pid, error: err.message }, 'worker channel error'));
    worker.once('exit', (code: number | null, signal: string | null) => this.onExit(proc, { code, signal }));
    return proc;
  }

  private onMessage(proc: WorkerProcess, message: unknown): void {
    if (!isOfgwMessage<FromWorker>(message)) return;
    switch (message.ofgw) {
      case 'ready':
        // A drain sent before the worker listened for messages was lost: repeat it.
        proc.send(proc.expectedExit ? { ofgw: 'drain' } : { ofgw: 'start', slot: proc.slot, config: this.config });
        break;
      case 'listening':
        proc.markListening({ address: message.address, port: message.port, fdLimit: message.fdLimit });
        break;
      case 'failed':
        this.logger.error({ worker: proc.slot, workerPid: proc.pid, error: message.message }, 'worker could not start');
        proc.markFailed(message.message, message.config);
        break;
      case 'stopped':
        proc.state = 'stopped';
        if (message.metrics) proc.lastMetrics = message.metrics;
        this.retire(proc);
        break;
      case 'snapshot':
        proc.onSnapshot(message.id, message.metrics);
        break;
      case 'aggregate-request':
        this.aggregate().then(
          (text) => proc.send({ ofgw: 'aggregate', id: message.id, text }),
          (err: unknown) => proc.send({ ofgw: 'aggregate', id: message.id, error: err instanceof Error ? err.message : String(err) }),
        );
        break;
    }
  }

  private retire(proc: WorkerProcess): void {
    if (proc.retired) return;
    proc.retired = true;
    if (proc.lastMetrics) this.retired.add(proc.lastMetrics);
  }

  private onExit(proc: WorkerProcess, exit: Exit): void {
    proc.markExited(exit);
    this.processes.delete(proc);
    this.retire(proc);
    const fields = { worker: proc.slot, workerPid: proc.pid, code: exit.code, signal: exit.signal };
    if (proc.expectedExit) {
      this.exits.drained++;
      this.logger.info(fields, 'worker exited');
      return;
    }
    this.exits.unexpected++;
    this.logger.error(fields, 'worker exited unexpectedly');
    const slot = this.slots[proc.slot - 1] as Slot;
    // Before the first start completes, start() reports it; a rolling restart's new worker
    // that dies before taking over is reported by the restart.
    if (!this.started || this.stopping || slot.current !== proc) return;
    slot.current = undefined;
    this.scheduleReplacement(slot, proc);
  }

  private scheduleReplacement(slot: Slot, dead: WorkerProcess): void {
    const stable = dead.listenedAt !== undefined && Date.now() - dead.listenedAt >= STABLE_MS;
    slot.failures = stable ? 1 : slot.failures + 1;
    if (slot.failures > MAX_FAILURES_IN_A_ROW) {
      this.logger.fatal(
        { worker: slot.id, failures: slot.failures - 1 },
        `worker ${slot.id} failed ${MAX_FAILURES_IN_A_ROW} times in a row: stopping the gateway`,
      );
      this.onGiveUp?.();
      return;
    }
    const delayMs = Math.min(BACKOFF_BASE_MS * 2 ** (slot.failures - 1), BACKOFF_MAX_MS);
    this.logger.warn({ worker: slot.id, inMs: delayMs, failuresInARow: slot.failures }, 'replacing worker');
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (this.stopping || slot.current) return;
      const proc = this.fork(slot.id);
      slot.current = proc;
      proc.listening.then(
        () => this.logger.info({ worker: slot.id, workerPid: proc.pid, replaces: dead.pid }, 'worker replaced'),
        // Its exit (which follows) schedules the next attempt.
        (err: Error) => this.logger.error({ worker: slot.id, workerPid: proc.pid, error: err.message }, 'replacement worker did not start'),
      );
    }, delayMs);
  }

  /** SIGHUP: replaces every worker in turn, each new one listening before the old one drains. */
  rollingRestart(): void {
    if (this.stopping || !this.started) return;
    if (this.rolling) {
      this.rollAgain = true;
      this.logger.info('rolling restart already running: one more follows it');
      return;
    }
    this.rolling = this.roll().finally(() => (this.rolling = undefined));
  }

  private async roll(): Promise<void> {
    do {
      this.rollAgain = false;
      const began = Date.now();
      this.logger.info({ workers: this.slots.length, pids: this.pids() }, 'rolling restart');
      for (const slot of this.slots) {
        if (this.stopping) return;
        const fresh = this.fork(slot.id);
        this.logger.info({ worker: slot.id, workerPid: fresh.pid, replaces: slot.current?.pid }, 'rolling restart: starting worker');
        try {
          await fresh.listening;
        } catch (err) {
          if (this.stopping) return;
          fresh.drain();
          this.logger.error(
            { worker: slot.id, workerPid: fresh.pid, error: (err as Error).message, keeps: slot.current?.pid },
            'rolling restart stopped: the new worker did not start; the old one keeps serving',
          );
          return;
        }
        if (this.stopping) return;
        if (fresh.state !== 'listening') {
          this.logger.error({ worker: slot.id, workerPid: fresh.pid, keeps: slot.current?.pid }, 'rolling restart stopped: the new worker died at once');
          return;
        }
        // The slot's worker now (it may have been replaced after a crash meanwhile).
        const old = slot.current;
        slot.current = fresh;
        slot.failures = 0;
        clearTimeout(slot.timer);
        slot.timer = undefined;
        this.logger.info({ worker: slot.id, workerPid: fresh.pid }, 'rolling restart: worker listening');
        if (!old || old.state === 'exited') continue;
        this.logger.info({ worker: slot.id, workerPid: old.pid }, 'rolling restart: draining worker');
        const drainedIn = Date.now();
        old.drain();
        const exit = await this.waitExit(old);
        this.logger.info({ worker: slot.id, workerPid: old.pid, ...exit, ms: Date.now() - drainedIn }, 'rolling restart: worker drained');
      }
      this.logger.info({ pids: this.pids(), ms: Date.now() - began }, 'rolling restart done');
    } while (this.rollAgain && !this.stopping);
  }

  /** Waits for a draining worker's exit; past shutdownTimeoutMs + margin it is killed. */
  private async waitExit(proc: WorkerProcess): Promise<Exit & { killed: boolean }> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), this.config.shutdownTimeoutMs + EXIT_MARGIN_MS)));
    const first = await Promise.race([proc.exited, late]);
    clearTimeout(timer);
    if (first !== 'late') return { ...first, killed: false };
    this.logger.error({ worker: proc.slot, workerPid: proc.pid }, 'worker did not exit in time: killing it');
    proc.kill();
    return { ...(await proc.exited), killed: true };
  }

  /** Drains every worker; true when all exited cleanly (code 0, none killed). */
  stop(): Promise<boolean> {
    this.stopping ??= (async () => {
      for (const slot of this.slots) {
        clearTimeout(slot.timer);
        slot.timer = undefined;
      }
      const all = [...this.processes];
      for (const proc of all) proc.drain();
      const exits = await Promise.all(all.map((proc) => this.waitExit(proc)));
      return exits.every((e) => !e.killed && e.code === 0);
    })();
    return this.stopping;
  }

  /** The second signal: no more waiting. */
  killAll(): void {
    for (const proc of this.processes) proc.kill();
  }

  /** The Prometheus text of all workers (see ./cluster-metrics.ts). */
  private async aggregate(): Promise<string> {
    const live = [...this.processes].filter((p) => p.state === 'listening' || p.state === 'draining');
    const answers = await Promise.all(live.map(async (proc) => ({ proc, snapshot: await proc.snapshot() })));
    // A worker that stopped meanwhile is in the retired totals already: count it once.
    const current = answers.filter((a) => !a.proc.retired);
    return aggregateText({
      answered: current.filter((a) => a.snapshot !== undefined).map((a) => a.snapshot as MetricsSnapshot),
      stale: current.filter((a) => a.snapshot === undefined).map((a) => a.proc.lastMetrics),
      retired: this.retired,
      exits: this.exits,
    });
  }
}

/** Runs the primary until SIGTERM/SIGINT; resolves with the exit code. */
export async function servePrimary(config: GatewayConfig, baseLogger: Logger): Promise<number> {
  const logger = baseLogger.child({ role: 'primary', pid: process.pid });
  // Once, before any worker: migrations and the key file. The sandbox waits until the
  // workers listen, so a taken port stops the start before anything is seeded.
  const store = await openServeStore(config, logger);
  const supervisor = new Supervisor(config, logger);
  const finished = handleSignals(supervisor, config, logger);
  let listening: Listening[];
  let sandbox: PreparedSandbox | undefined;
  try {
    listening = await supervisor.start();
    sandbox = config.production || supervisor.isStopping ? undefined : await prepareSandbox(store, config, logger);
  } catch (err) {
    if (!supervisor.isStopping) {
      await supervisor.stop();
      finished.detach();
      await store.close();
      if (err instanceof WorkerStartError && err.config) throw new ConfigError(err.message);
      throw err;
    }
    // A signal arrived during the start: its shutdown decides the exit code.
    listening = [];
  }
  // The workers have their own connections; the primary's was for the start only.
  await store.close();
  const first = listening[0];
  if (first) {
    const address = { address: first.address, port: first.port, family: '' };
    // The workers inherit this process's limit: one warning here, not one per worker.
    warnOnSmallBudget(logger, descriptorBudget());
    logger.info(
      { ...listeningFields(config, address), workers: config.workers, pids: supervisor.pids(), fdLimitPerWorker: first.fdLimit ?? 'unknown' },
      'gateway listening',
    );
    if (sandbox?.banner) process.stderr.write(sandbox.banner(baseUrlOf(address)));
  }
  const code = await finished.code;
  finished.detach();
  // After the workers: their relays were open to it until they drained.
  await sandbox?.simulator.close();
  logger.info({ code }, 'stopped');
  return code;
}

/** SIGTERM/SIGINT stop everything (a second one kills), SIGHUP rolls; `code` settles on stop. */
function handleSignals(supervisor: Supervisor, config: GatewayConfig, logger: Logger): { code: Promise<number>; detach(): void } {
  let resolveCode!: (code: number) => void;
  const code = new Promise<number>((resolve) => (resolveCode = resolve));
  let stopping = false;
  const shutdown = (reason: string, failed: boolean): void => {
    if (stopping) {
      logger.warn({ reason }, 'second signal: killing the workers and exiting now');
      supervisor.killAll();
      resolveCode(1);
      return;
    }
    stopping = true;
    logger.info({ reason, workers: supervisor.processes.size }, 'shutting down');
    // Bounded whatever happens: each worker's drain deadline, its kill, and a margin.
    const deadline = setTimeout(() => {
      logger.error('shutdown deadline passed: killing the workers and exiting');
      supervisor.killAll();
      resolveCode(1);
    }, config.shutdownTimeoutMs + EXIT_MARGIN_MS + 3000);
    deadline.unref();
    void supervisor.stop().then((clean) => {
      clearTimeout(deadline);
      resolveCode(clean && !failed ? 0 : 1);
    });
  };
  const onStop = (signal: NodeJS.Signals): void => shutdown(signal, false);
  const onHangUp = (): void => {
    if (!stopping) supervisor.rollingRestart();
  };
  supervisor.onGiveUp = () => shutdown('a worker kept failing', true);
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHangUp);
  return {
    code,
    detach() {
      process.off('SIGTERM', onStop);
      process.off('SIGINT', onStop);
      process.off('SIGHUP', onHangUp);
    },
  };
}
