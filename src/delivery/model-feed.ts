/**
 * Fan-out of one model's event log to the clients attached on this node
 * (sessions-contract.md §3). One follower of the log per model per node; each client has a
 * cursor (the last id it was given) and is in one of three states:
 *
 *   catching up ──read pages from its cursor; no newer entry followed──▶ live
 *        ▲                                                                  │
 *        └──────── drained ◀── behind (its buffer passed the high-water mark)┘
 *
 * A client never gets an entry twice or out of order: live entries are given only past its
 * cursor, and catching up ends only when the log and the follower agree nothing newer exists.
 * A client that does not read is not queued for: it falls behind and catches up from the log
 * once it drains, so no client slows the session or the others, and memory per client is its
 * socket's buffer.
 */
import type { EventLog, LogEntry, LogPage } from '../sessions/types.js';
import { compareIds } from '../sessions/types.js';

export interface FeedClient {
  /** Sends one entry; called in id order, each id once. */
  deliver(entry: LogEntry): void;
  /** Tells the client the entries after `after` and before `before` are gone. */
  gap(after: string | null, before: string): void;
  /** Its outgoing buffer is above the high-water mark (or it cannot take entries yet): stop giving it entries. */
  readonly backedUp: boolean;
  /** The log could not be read for it (the log's store is away): end it. */
  failed(err: unknown): void;
}

const enum Mode {
  CatchingUp,
  Live,
  Behind,
}

interface Attached {
  client: FeedClient;
  cursor: string | null;
  mode: Mode;
}

/** Entries read per page when catching up. */
const PAGE = 256;

export class ModelFeed {
  private readonly clients = new Map<FeedClient, Attached>();
  private readonly attaching = new Set<FeedClient>();
  /** Clients detached while still attaching: not added when their start is known. */
  private readonly cancelled = new Set<FeedClient>();
  private unfollow: (() => void) | undefined;
  /** The newest id the follower delivered. */
  private followed: string | null = null;
  /** Entries given to clients (for metrics). */
  delivered = 0;

  /**
   * @param onLive called after followed entries were written to the live clients (at least
   *   one), with `performance.now()` taken after the last write: what the delivery lag metric
   *   times.
   */
  constructor(
    readonly modelId: string,
    private readonly log: EventLog,
    private readonly onEmpty: (feed: ModelFeed) => void,
    private readonly onLive?: (entries: readonly LogEntry[], writtenAt: number) => void,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /**
   * Attaches a client. Without `since` it starts at the live tail (the log's newest id now);
   * with it, replays what followed that id first. Resolves with what the confirmation says:
   * the newest id and whether nothing was lost, once the client's starting point is fixed
   * (before any entry is given to it).
   */
  async attach(client: FeedClient, since: string | undefined, confirm: (lastEventId: string | null, resumed: boolean) => void): Promise<void> {
    this.unfollow ??= this.log.follow(this.modelId, {
      entries: (entries) => this.onFollowed(entries),
      lost: () => this.onLost(),
    });
    // Until its starting point is read the client is attaching: a detach meanwhile cancels it,
    // and the feed does not count as empty (it would be dropped under the attach).
    this.attaching.add(client);
    let a: Attached;
    let page: LogPage | undefined;
    try {
      if (since === undefined) {
        a = { client, cursor: await this.log.lastId(this.modelId), mode: Mode.CatchingUp };
      } else {
        page = await this.log.read(this.modelId, since, PAGE);
        a = { client, cursor: since, mode: Mode.CatchingUp };
      }
    } catch (err) {
      this.attaching.delete(client);
      this.cancelled.delete(client);
      this.dropIfEmpty();
      throw err;
    }
    this.attaching.delete(client);
    if (this.cancelled.delete(client)) {
      this.dropIfEmpty();
      return;
    }
    this.clients.set(client, a);
    if (!page) {
      confirm(a.cursor, true);
      // Anything appended since lastId() was read is past the cursor: caught up by a read.
      await this.catchUp(a);
      return;
    }
    confirm(page.lastId, page.gap === null);
    if (page.gap) {
      client.gap(page.gap.after, page.gap.before);
      a.cursor = null;
    }
    this.give(a, page.entries);
    await this.catchUp(a);
  }

  detach(client: FeedClient): void {
    if (this.attaching.has(client)) {
      this.cancelled.add(client);
      return;
    }
    if (!this.clients.delete(client)) return;
    this.dropIfEmpty();
  }

  private dropIfEmpty(): void {
    if (this.clients.size > 0 || this.attaching.size > 0) return;
    this.unfollow?.();
    this.unfollow = undefined;
    this.followed = null;
    this.onEmpty(this);
  }

  /** The client's buffer drained: a client that fell behind catches up from its cursor. */
  drained(client: FeedClient): void {
    const a = this.clients.get(client);
    if (a?.mode !== Mode.Behind) return;
    a.mode = Mode.CatchingUp;
    void this.catchUp(a);
  }

  /** Reads pages after the cursor until nothing newer than what the follower saw remains. */
  private async catchUp(a: Attached): Promise<void> {
    try {
      for (let rounds = 0; rounds < 1_000_000; rounds++) {
        if (this.clients.get(a.client) !== a || a.mode !== Mode.CatchingUp) return;
        const page = await this.log.read(this.modelId, a.cursor, PAGE);
        if (this.clients.get(a.client) !== a || a.mode !== Mode.CatchingUp) return;
        if (page.gap && a.cursor !== null) {
          a.client.gap(page.gap.after, page.gap.before);
        }
        this.give(a, page.entries);
        if (a.mode !== Mode.CatchingUp) return; // fell behind while being given the page
        if (page.more) continue;
        // Synchronously with the check: from here the follower's entries go to it live.
        if (this.followed === null || a.cursor === null || compareIds(this.followed, a.cursor) <= 0) {
          a.mode = Mode.Live;
          return;
        }
      }
    } catch (err) {
      if (this.clients.get(a.client) === a) a.client.failed(err);
    }
  }

  private give(a: Attached, entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      if (a.cursor !== null && compareIds(entry.id, a.cursor) <= 0) continue;
      // Asked before each entry, so a client not ready for any yet (a multi-model socket
      // confirming its other models) takes none and catches up once drained.
      if (a.client.backedUp) {
        a.mode = Mode.Behind;
        return;
      }
      a.client.deliver(entry);
      a.cursor = entry.id;
      this.delivered++;
    }
  }

  private onFollowed(entries: readonly LogEntry[]): void {
    const last = entries[entries.length - 1];
    if (!last) return;
    this.followed = last.id;
    let live = false;
    for (const a of this.clients.values()) {
      if (a.mode !== Mode.Live) continue;
      this.give(a, entries);
      live = true;
    }
    if (live) this.onLive?.(entries, performance.now());
  }

  /** The follower may have missed entries: every live client re-reads from its cursor. */
  private onLost(): void {
    for (const a of this.clients.values()) {
      if (a.mode !== Mode.Live) continue;
      a.mode = Mode.CatchingUp;
      void this.catchUp(a);
    }
  }
}
