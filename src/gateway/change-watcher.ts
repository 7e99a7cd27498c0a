/**
 * Applies store changes to live relays (contract §3: keys revoked, subscriptions ended and
 * models disconnected "also while connected"; a rotated key's grace period, organizations
 * deleted). The store's change feed is written in the
 * same transaction as each mutation, by whichever process made it (the CLI on the same
 * SQLite file included), so polling it is enough to act within a second.
 */
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ApiKeyRecord, Change, Store } from '../store/types.js';
import { keyIsUsable } from './admission.js';
import type { ModelMembership, RelayRegistry } from './relay-registry.js';

/** Recent changes kept to re-check relays admitted while a change was in flight. */
const RECENT = 1024;

export class ChangeWatcher {
  /** The last change applied. */
  seq = 0;
  private readonly recent: Change[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private polling: Promise<void> | undefined;
  /** A read was asked for while one was under way. */
  private again = false;
  /** The last audit-trail event logged per model; only events from this run are logged. */
  private readonly loggedModelEvents = new Map<string, number>();
  private readonly startedAt = new Date().toISOString();
  /** Told of every model change (session mode starts, stops or refreshes the model's session). */
  onModelChange: ((modelId: string) => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly registry: RelayRegistry,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.seq = await this.store.latestChangeSeq();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
  }

  /**
   * Re-applies changes newer than `sinceSeq` that concern `member`: the relay's checks ran
   * against the store before it was indexed, so a change polled in between would otherwise
   * miss it.
   */
  recheck(member: ModelMembership, sinceSeq: number): void {
    const a = member.admission;
    // `recent` holds changes as soon as they are read, before `seq` advances past them.
    const newest = this.recent[this.recent.length - 1];
    if (!a || !newest || newest.seq <= sinceSeq) return;
    for (const change of this.recent) {
      if (change.seq <= sinceSeq) continue;
      if (change.entityId === a.key.id || change.entityId === a.orgId || change.entityId === a.modelId) {
        void this.apply(change).catch((err: unknown) => this.logger.error({ err }, 'applying a store change failed'));
      }
    }
  }

  /**
   * Reads the feed now (another node announced a change) instead of at the next tick; a
   * read already under way is followed by one more, so nothing announced is missed.
   */
  pollNow(): void {
    if (this.stopped) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.run();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.run(), this.intervalMs);
  }

  private run(): void {
    this.polling = this.poll().finally(() => {
      this.polling = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.run();
      } else this.schedule();
    });
  }

  private async poll(): Promise<void> {
    try {
      for (;;) {
        const changes = await this.store.changesSince(this.seq);
        if (changes.length === 0) return;
        const seen = new Set<string>();
        for (const change of changes) {
          this.recent.push(change);
          const id = `${change.kind}:${change.entityId}`;
          if (!seen.has(id)) {
            seen.add(id);
            await this.apply(change);
          }
        }
        this.seq = changes[changes.length - 1]?.seq ?? this.seq;
        if (this.recent.length > RECENT) this.recent.splice(0, this.recent.length - RECENT);
      }
    } catch (err) {
      // A failed read (a locked or briefly unavailable store) is retried on the next tick.
      this.logger.error({ err }, 'reading the store change feed failed');
    }
  }

  /**
   * Logs the model's new lifecycle events (made by this process or another, e.g. the CLI).
   * `proxy_failing` changes no state and is logged where it happens.
   */
  private async logModelEvents(modelId: string): Promise<void> {
    const since = this.loggedModelEvents.get(modelId) ?? 0;
    const events = (await this.store.listModelEvents(modelId, 20)).filter((e) => e.seq > since && e.at >= this.startedAt).reverse();
    for (const e of events) {
      if (e.kind !== 'proxy_failing') this.logger.info({ modelId, orgId: e.orgId, event: e.kind, reason: e.reason ?? undefined }, 'model lifecycle event');
      this.loggedModelEvents.set(modelId, e.seq);
    }
    if (events.some((e) => e.kind === 'removed')) this.loggedModelEvents.delete(modelId);
  }

  private async apply(change: Change): Promise<void> {
    switch (change.kind) {
      case 'api_key': {
        const pairs = this.registry.forKey(change.entityId);
        if (!pairs?.size) return;
        const key = await this.store.getApiKey(change.entityId);
        if (!keyIsUsable(key, new Date())) return closeAll(pairs, 'INVALID_API_KEY', keyEndMessage(key));
        // Still usable, but its end may have moved (a rotation's grace): relays follow it.
        for (const pair of [...pairs]) pair.keyExpiryChanged(key.expiresAt);
        return;
      }
      case 'subscription': {
        const pairs = this.registry.forOrg(change.entityId);
        if (!pairs?.size) return;
        const subscription = await this.store.getSubscription(change.entityId);
        if (subscription?.status !== 'active') closeAll(pairs, 'NO_SUBSCRIPTION', 'The organization\'s subscription ended');
        return;
      }
      case 'model': {
        await this.logModelEvents(change.entityId);
        this.onModelChange?.(change.entityId);
        const pairs = this.registry.forModel(change.entityId);
        if (!pairs?.size) return;
        const model = await this.store.getModel(change.entityId);
        if (!model) closeAll(pairs, 'MODEL_NOT_FOUND', 'The model was removed');
        else if (model.status !== 'connected') closeAll(pairs, 'MODEL_NOT_CONNECTED', 'The model was disconnected');
        else {
          // Switched between relay and session: its connections reconnect into the new mode.
          const delivery = model.delivery;
          for (const pair of [...pairs]) if (pair.admission && pair.admission.delivery !== delivery) pair.deliveryChanged(delivery);
        }
        return;
      }
      case 'organization': {
        // Deleting an organization also removes its keys, whose changes come first and close
        // these relays; this covers a relay whose key change was missed.
        const pairs = this.registry.forOrg(change.entityId);
        if (!pairs?.size) return;
        if (!(await this.store.getOrganization(change.entityId))) closeAll(pairs, 'INVALID_API_KEY', 'The organization was deleted');
        return;
      }
    }
  }
}

/** Why a key that admitted a relay no longer works. */
function keyEndMessage(key: ApiKeyRecord | undefined): string {
  if (!key) return 'The API key was deleted with its organization';
  if (key.revokedAt) return 'The API key was revoked';
  return key.replacedBy ? "The API key was rotated and its grace period ended" : 'The API key expired';
}

function closeAll(pairs: ReadonlySet<ModelMembership>, code: 'INVALID_API_KEY' | 'NO_SUBSCRIPTION' | 'MODEL_NOT_FOUND' | 'MODEL_NOT_CONNECTED', message: string): void {
  for (const pair of [...pairs]) pair.fail(new GatewayError(code, message));
}
