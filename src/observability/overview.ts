/**
 * The dashboard's overview (issue 15 point 6): what one node did over the last hour, sampled in
 * memory. Every `intervalMs` the sampler takes one {@link OverviewSample} — the connections open
 * now, and what happened since the previous sample (events logged, connection attempts by
 * outcome, upstream failures, session reconnects, webhook attempts) — into a ring of fixed
 * size, so memory is bounded whatever the traffic: `capacity` samples of at most one counter
 * per known outcome label.
 *
 * Ticks fall on multiples of `intervalMs` of the wall clock, so the samples of every node of a
 * cluster carry the same timestamps and {@link mergeOverviews} can add them up.
 *
 * Like the metrics, it reads the diagnostics channels and an {@link ObservedGateway} shape only.
 * Nothing here runs per message: per connection once (when it finishes), per tick otherwise.
 */
import diagnostics from 'node:diagnostics_channel';
import { relayFinished, webhookAttempted, type ObservedConnection, type ObservedWebhookAttempt, type WebhookAttemptResult } from '../diagnostics.js';
import { outcomeLabel } from './labels.js';
import type { ObservedGateway, SessionModelState } from './observed.js';

/** One interval of one node (or, merged, of the cluster). */
export interface OverviewSample {
  /** When the interval ended: a multiple of the interval, in ms since the epoch. */
  at: number;
  /** Customer connections with their own OnlyFans socket (relay mode), open at `at`. */
  relays: number;
  /** Clients attached to session-mode models, open at `at`. */
  sessionClients: number;
  /** Upstream events the sessions held here appended to the event log during the interval. */
  events: number;
  /** Connection attempts that finished during the interval, by outcome (`ok` or a code); only outcomes seen. */
  attempts: Record<string, number>;
  /** Of those, the ones that ended because of OnlyFans: refused or failed connects, sockets lost. */
  upstreamFailures: number;
  /** Times the sessions held here reopened their OnlyFans socket during the interval. */
  sessionReconnects: number;
  /** Webhook delivery attempts that ended during the interval, by result. */
  webhooks: Record<WebhookAttemptResult, number>;
}

/** What one node answers for the overview: its samples, oldest first, and its session models now. */
export interface NodeOverview {
  node: string;
  intervalMs: number;
  samples: OverviewSample[];
  sessions: SessionModelState[];
}

/** What the sampler reads from its gateway. */
export type OverviewSource = Pick<ObservedGateway, 'registry' | 'sessionStats' | 'sessionModels'>;

export interface OverviewOptions {
  /** Time between samples (the overviewSampleMs setting). */
  intervalMs: number;
  /** Samples kept; the oldest goes when a new one comes. Default 360: an hour at 10 s. */
  capacity?: number;
}

/** An hour at the default 10 s interval. */
export const DEFAULT_CAPACITY = 360;

/**
 * Outcomes caused by OnlyFans rather than by the client or the gateway: the upstream refused or
 * failed the connect (WS_CONNECT_ERROR), the connect failed later (UPSTREAM_FAILED), or an open
 * upstream socket dropped (UPSTREAM_CLOSED_ABNORMALLY).
 */
const UPSTREAM_OUTCOMES: ReadonlySet<string> = new Set(['WS_CONNECT_ERROR', 'UPSTREAM_FAILED', 'UPSTREAM_CLOSED_ABNORMALLY']);

const WEBHOOK_RESULTS: readonly WebhookAttemptResult[] = ['delivered', 'retrying', 'failed'];

function noWebhooks(): Record<WebhookAttemptResult, number> {
  return { delivered: 0, retrying: 0, failed: 0 };
}

/**
 * Samples one gateway into a bounded ring. `start()` subscribes and schedules the ticks;
 * `stop()` undoes both; {@link sample} takes one sample now (the ticks call it; tests may too).
 *
 *     const sampler = new OverviewSampler(gateway, { intervalMs: 10_000 });
 *     sampler.start();
 *     sampler.samples(); // oldest first, at most 360
 */
export class OverviewSampler {
  readonly intervalMs: number;
  readonly capacity: number;
  private readonly ring: OverviewSample[] = [];
  /** Where the next sample goes once the ring is full (the oldest one's slot). */
  private oldest = 0;
  private attempts = new Map<string, number>();
  private upstreamFailures = 0;
  private webhooks = noWebhooks();
  private lastEvents = 0;
  private lastReconnects = 0;
  private timer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(
    private readonly source: OverviewSource,
    options: OverviewOptions,
  ) {
    if (!Number.isInteger(options.intervalMs) || options.intervalMs <= 0) throw new RangeError('intervalMs must be a positive whole number of milliseconds');
    const capacity = options.capacity ?? DEFAULT_CAPACITY;
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError('capacity must be a positive whole number');
    this.intervalMs = options.intervalMs;
    this.capacity = capacity;
  }

  /** Subscribes to the channels and schedules the ticks. Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    // Counters from here on: what happened before the start is not this hour's.
    const stats = this.source.sessionStats();
    this.lastEvents = stats.eventsLogged;
    this.lastReconnects = stats.upstreamReconnects;
    diagnostics.subscribe(relayFinished.name, this.onFinished);
    diagnostics.subscribe(webhookAttempted.name, this.onWebhook);
    this.schedule();
  }

  /** Unsubscribes and stops ticking; the samples stay readable. Idempotent. */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    diagnostics.unsubscribe(relayFinished.name, this.onFinished);
    diagnostics.unsubscribe(webhookAttempted.name, this.onWebhook);
  }

  /**
   * Takes a sample closing the interval at `now` (rounded to the interval) and returns it. A
   * sample for a time not after the newest one is folded into the newest (counters added,
   * levels replaced), so the ring stays in time order even if the clock steps back.
   */
  sample(now = Date.now()): OverviewSample {
    const stats = this.source.sessionStats();
    let open = 0;
    for (const conn of this.source.registry.all) if (conn.isOpen) open++;
    // Session clients are in the registry too; a client attached but not yet counted open (or
    // the reverse, for a moment) must not make the relay count negative.
    const sessionClients = Math.min(stats.clients, open);
    const taken: OverviewSample = {
      at: Math.round(now / this.intervalMs) * this.intervalMs,
      relays: open - sessionClients,
      sessionClients,
      events: Math.max(0, stats.eventsLogged - this.lastEvents),
      attempts: Object.fromEntries(this.attempts),
      upstreamFailures: this.upstreamFailures,
      sessionReconnects: Math.max(0, stats.upstreamReconnects - this.lastReconnects),
      webhooks: this.webhooks,
    };
    this.lastEvents = stats.eventsLogged;
    this.lastReconnects = stats.upstreamReconnects;
    this.attempts = new Map();
    this.upstreamFailures = 0;
    this.webhooks = noWebhooks();
    const newest = this.newest();
    if (newest && taken.at <= newest.at) {
      foldInto(newest, taken);
      return newest;
    }
    if (this.ring.length < this.capacity) this.ring.push(taken);
    else {
      this.ring[this.oldest] = taken;
      this.oldest = (this.oldest + 1) % this.capacity;
    }
    return taken;
  }

  /** The samples kept, oldest first (copies: the caller may keep them). */
  samples(): OverviewSample[] {
    const ordered = [...this.ring.slice(this.oldest), ...this.ring.slice(0, this.oldest)];
    return ordered.map((s) => ({ ...s, attempts: { ...s.attempts }, webhooks: { ...s.webhooks } }));
  }

  /** This node's answer to an overview request. */
  snapshot(node: string): NodeOverview {
    return { node, intervalMs: this.intervalMs, samples: this.samples(), sessions: this.source.sessionModels() };
  }

  private newest(): OverviewSample | undefined {
    if (this.ring.length === 0) return undefined;
    return this.ring[(this.oldest + this.ring.length - 1) % this.ring.length];
  }

  private schedule(): void {
    // To the next multiple of the interval: every node ticks at the same wall-clock times.
    const wait = this.intervalMs - (Date.now() % this.intervalMs);
    this.timer = setTimeout(() => {
      this.sample();
      if (this.started) this.schedule();
    }, wait);
    this.timer.unref();
  }

  // The channels are process-wide: count only this gateway's connections.
  private readonly onFinished = (message: unknown): void => {
    const conn = message as ObservedConnection;
    if (!this.source.registry.all.has(conn)) return;
    const outcome = outcomeLabel(conn.outcome);
    this.attempts.set(outcome, (this.attempts.get(outcome) ?? 0) + 1);
    if (UPSTREAM_OUTCOMES.has(outcome)) this.upstreamFailures++;
  };

  private readonly onWebhook = (message: unknown): void => {
    const { result } = message as ObservedWebhookAttempt;
    if (WEBHOOK_RESULTS.includes(result)) this.webhooks[result]++;
  };
}

/** Adds `extra`'s counters to `into` and takes its levels (the later ones). */
function foldInto(into: OverviewSample, extra: OverviewSample): void {
  into.relays = extra.relays;
  into.sessionClients = extra.sessionClients;
  addCounters(into, extra);
}

function addCounters(into: OverviewSample, extra: OverviewSample): void {
  into.events += extra.events;
  into.upstreamFailures += extra.upstreamFailures;
  into.sessionReconnects += extra.sessionReconnects;
  for (const [outcome, n] of Object.entries(extra.attempts)) into.attempts[outcome] = (into.attempts[outcome] ?? 0) + n;
  for (const result of WEBHOOK_RESULTS) into.webhooks[result] += extra.webhooks[result];
}

/**
 * The cluster's series from every node's: samples are put in buckets of `intervalMs` (the
 * asking node's interval; nodes normally share one) and added up — counters summed, and levels
 * summed over nodes, each node counted with its latest sample in the bucket. Oldest first.
 */
export function mergeOverviews(nodes: readonly NodeOverview[], intervalMs: number): OverviewSample[] {
  const buckets = new Map<number, OverviewSample>();
  for (const node of nodes) {
    const levels = new Map<number, { relays: number; sessionClients: number }>();
    for (const s of node.samples) {
      const at = Math.ceil(s.at / intervalMs) * intervalMs;
      let bucket = buckets.get(at);
      if (!bucket) {
        bucket = { at, relays: 0, sessionClients: 0, events: 0, attempts: {}, upstreamFailures: 0, sessionReconnects: 0, webhooks: noWebhooks() };
        buckets.set(at, bucket);
      }
      addCounters(bucket, s);
      levels.set(at, { relays: s.relays, sessionClients: s.sessionClients });
    }
    for (const [at, level] of levels) {
      const bucket = buckets.get(at) as OverviewSample;
      bucket.relays += level.relays;
      bucket.sessionClients += level.sessionClients;
    }
  }
  return [...buckets.values()].sort((a, b) => a.at - b.at);
}
