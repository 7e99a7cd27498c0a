/**
 * Session events to deliveries. The node holding a model's session follows the model's event
 * log from the store's intake cursor and enqueues each OnlyFans event for the organization's
 * endpoints, moving the cursor in the same transaction. A holder killed before it enqueued
 * leaves the cursor behind: the next holder reads from there. Two holders overlapping during
 * a takeover enqueue the same events with the same webhook ids, which the store keeps once.
 */
import type { Logger } from '../log.js';
import type { EventLog } from '../sessions/types.js';
import type { WebhookEventInput, WebhookStore } from '../store/webhook-types.js';
import { eventBody } from './payloads.js';

/** Log entries read and enqueued per transaction. */
const PAGE = 200;
/** Pause before reading again after the store or the log failed. */
const RETRY_MS = 1000;
/**
 * How long "the organization has no enabled endpoint" is believed before the store is asked
 * again; a model whose organization has none is not read meanwhile, and looked at again then.
 */
export const ENDPOINTS_RECHECK_MS = 1000;

export interface IntakeOptions {
  modelId: string;
  orgId: string;
  log: EventLog;
  store: WebhookStore;
  logger: Logger;
  /** Called after deliveries were enqueued (the worker looks at once). */
  enqueued(): void;
  /**
   * Whether the organization has an enabled endpoint now (the service answers from a short-lived
   * cache). While it has none, the log is not read and the cursor stays: an endpoint takes only
   * events from its creation on, and those are still in the log after the cursor when it appears.
   */
  hasEndpoints(): Promise<boolean>;
}

export class SessionIntake {
  private cursor: string | null | undefined;
  private pumping: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  /** Set while the organization has no endpoint: one look after ENDPOINTS_RECHECK_MS, whatever the traffic. */
  private recheck: NodeJS.Timeout | undefined;
  private readonly unfollow: () => void;

  constructor(private readonly opts: IntakeOptions) {
    // Followed first, read after: an entry appended in between is read, not missed.
    this.unfollow = opts.log.follow(opts.modelId, { entries: () => this.pump(), lost: () => this.pump() });
    this.pump();
  }

  /**
   * Stops following, after one last read: a session that stopped for good (the model left
   * session mode) leaves no holder to enqueue its last events.
   */
  async stop(): Promise<void> {
    this.unfollow();
    clearTimeout(this.retry);
    clearTimeout(this.recheck);
    await this.pumping;
    try {
      await this.drain();
    } catch (err) {
      this.opts.logger.warn({ modelId: this.opts.modelId, error: (err as Error).message }, 'webhook intake failed on stop; the next holder reads from the cursor');
    }
    this.stopped = true;
    clearTimeout(this.recheck); // set by that last read if the organization had no endpoint
  }

  private pump(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = this.drain()
      .catch((err: unknown) => {
        this.opts.logger.warn({ modelId: this.opts.modelId, error: (err as Error).message }, 'webhook intake failed; reading again shortly');
        this.retry = setTimeout(() => this.pump(), RETRY_MS);
      })
      .finally(() => {
        this.pumping = undefined;
        if (this.again) {
          this.again = false;
          this.pump();
        }
      });
  }

  private async drain(): Promise<void> {
    const { modelId, orgId, log, store } = this.opts;
    if (!(await this.opts.hasEndpoints())) {
      // Nothing to enqueue for: no read, no transaction per event. Looked at again shortly, so
      // that the events after an endpoint's creation are enqueued even if the model goes quiet.
      if (!this.stopped) this.recheck ??= setTimeout(() => {
        this.recheck = undefined;
        this.pump();
      }, ENDPOINTS_RECHECK_MS);
      return;
    }
    // No cursor yet: from the oldest kept entry; endpoints skip what predates them.
    if (this.cursor === undefined) this.cursor = (await store.intakeCursor(modelId)) ?? null;
    for (;;) {
      if (this.stopped) return;
      const page = await log.read(modelId, this.cursor, PAGE);
      const last = page.entries[page.entries.length - 1];
      if (last === undefined) return;
      const events: WebhookEventInput[] = [];
      for (const entry of page.entries) {
        if (entry.kind !== 'event') continue; // status entries come as lifecycle events from the store
        const made = eventBody(modelId, entry.id, entry.ts, entry.data, entry.binary);
        if (made === undefined) continue;
        events.push({ key: `event:${modelId}:${entry.id}`, type: made.type, modelId, occurredAt: new Date(entry.ts).toISOString(), payload: made.body });
      }
      const created = await store.enqueue(orgId, events, { modelId, eventId: last.id });
      this.cursor = last.id;
      if (created > 0) this.opts.enqueued();
      if (!page.more) return;
    }
  }
}
