/**
 * The parts of session mode (sessions-contract.md §1–§3), each behind an interface with an
 * embedded implementation (one node, in process and the node's own files) and a cluster one
 * (Redis), sharing one test suite:
 *
 * - {@link EventLog}: every event a session receives, with its id, bounded by age and count;
 * - {@link Ownership}: which node holds a model's session, as a lease with a fencing token;
 * - {@link SessionBus}: client frames forwarded to the holder, replies routed back.
 *
 * The store knows nothing of these; the upstream connector knows no customers. The gateway's
 * client side reads the log and talks to the bus; the upstream side (a {@link Lease} holder)
 * appends to the log and serves the bus.
 */

/** What the log holds: an upstream frame, or a change of the upstream's state. */
export type EntryKind = 'event' | 'status';

/** The upstream's state as told to clients by `status` entries (contract §3). */
export type UpstreamState = 'connected' | 'reconnecting' | 'down';

/**
 * One logged entry. Ids are `<ms>-<seq>` (decimal, no padding): `ms` is the append time in
 * milliseconds since the epoch, never lower than the previous entry's, and `seq` counts the
 * entries of that millisecond from 0. Ids of one model are strictly increasing and compare with
 * {@link compareIds}; to clients they are opaque strings.
 */
export interface LogEntry {
  id: string;
  /** Milliseconds since the epoch when it was appended (the `ms` of its id). */
  ts: number;
  kind: EntryKind;
  /**
   * For an event: the upstream message's payload, the exact bytes that arrived.
   * For a status: UTF-8 JSON `{"upstream": UpstreamState, "reason"?: string}`.
   */
  data: Buffer;
  /** The upstream message was a binary frame (always false for a status). */
  binary: boolean;
  /**
   * Only on the entries an embedded log hands to its followers in the process that appended
   * them: `performance.now()` when the session read the event's frame off the upstream socket
   * (never stored; it times the delivery lag metric).
   */
  readAt?: number;
}

export interface NewEntry {
  kind: EntryKind;
  data: Buffer;
  binary: boolean;
  /** `performance.now()` when the frame was read off the upstream socket (events only). */
  readAt?: number;
}

/** How long a model's log keeps entries: whichever bound is reached first trims. */
export interface Retention {
  maxEvents: number;
  maxAgeMs: number;
}

/**
 * The right to append for one model: a lease's fencing token. Tokens of one model only grow;
 * an append with a token lower than the latest granted one is refused with {@link FencedError},
 * so a node that lost its lease (paused, partitioned) cannot write after the new holder did.
 */
export interface Fence {
  modelId: string;
  token: number;
}

export class FencedError extends Error {
  constructor(modelId: string, token: number) {
    super(`append refused for model ${modelId}: fencing token ${token} is no longer the holder's`);
    this.name = 'FencedError';
  }
}

/** Entries a client asked for, oldest first, and whether some it asked for are gone. */
export interface LogPage {
  entries: LogEntry[];
  /**
   * Set when `afterId` is older than the oldest entry kept, unknown or malformed: the events
   * after `after` (null: from the beginning) and before `before` are not available.
   * `before` is the id of the first entry in `entries` (the oldest kept).
   */
  gap: { after: string | null; before: string } | null;
  /** The newest id in the log (null: the log is empty), whatever the page holds. */
  lastId: string | null;
  /** More entries follow the page (read again after its last id). */
  more: boolean;
}

export interface EventLog {
  /**
   * Appends in order, assigns ids, trims by `retention`; all or nothing.
   * @throws {FencedError} when `fence` is not the model's current holder's.
   */
  append(fence: Fence, entries: readonly NewEntry[], retention: Retention): Promise<LogEntry[]>;
  /**
   * Up to `limit` entries after `afterId` (exclusive). `afterId` null: from the oldest kept,
   * with no gap. An id that is older than the oldest kept gets a gap; one that is malformed or
   * was never in this log gets a gap from the oldest kept (contract §3: never a silent restart).
   * The newest id is never a gap (nothing after it yet).
   */
  read(modelId: string, afterId: string | null, limit: number): Promise<LogPage>;
  /** The newest id, or null when the log is empty. */
  lastId(modelId: string): Promise<string | null>;
  /**
   * Calls `listener` with every batch appended to the model's log after this call, by any
   * node, in id order and without holes; returns the unsubscribe function. A listener that
   * falls behind (the cluster implementation lost its feed) is told with `lost()` and should
   * catch up with {@link read} from its last id.
   */
  follow(modelId: string, listener: FollowListener): () => void;
  /** Forgets the model's log (the model was removed). */
  remove(modelId: string): Promise<void>;
  /** Entries kept across all models, and their payload bytes (for metrics). */
  size(): Promise<{ entries: number; bytes: number }>;
  close(): Promise<void>;
}

export interface FollowListener {
  entries(entries: readonly LogEntry[]): void;
  /** The follower may have missed entries: re-read from the last id it has. */
  lost(): void;
}

/** Splits an id; undefined when malformed. */
export function parseId(id: string): { ms: number; seq: number } | undefined {
  const m = /^(\d{1,15})-(\d{1,9})$/.exec(id);
  if (!m) return undefined;
  return { ms: Number(m[1]), seq: Number(m[2]) };
}

/** Negative, zero or positive as `a` is before, equal to or after `b` (both well-formed). */
export function compareIds(a: string, b: string): number {
  const x = parseId(a);
  const y = parseId(b);
  if (!x || !y) throw new Error(`malformed event id: ${!x ? a : b}`);
  return x.ms - y.ms || x.seq - y.seq;
}

/** The next id after `last` at time `now` (ms never goes backwards). */
export function nextId(last: string | null, now: number): string {
  const prev = last ? parseId(last) : undefined;
  if (!prev || now > prev.ms) return `${now}-0`;
  return `${prev.ms}-${prev.seq + 1}`;
}

/**
 * A held session: valid until `validUntil` (this process's `performance.now()` clock), which
 * is earlier than the lease's expiry in the shared store by a safety margin, so a holder whose
 * renewals fail stops before anyone else may take over.
 */
export interface Lease {
  modelId: string;
  token: number;
  validUntil: number;
}

export interface Ownership {
  /** This node's id (as in the cluster view). */
  readonly nodeId: string;
  /** Takes the model's lease if nobody holds it; null when another node does. */
  tryAcquire(modelId: string): Promise<Lease | null>;
  /** Extends the lease; false when it was lost (expired and taken, or released). */
  renew(lease: Lease): Promise<boolean>;
  /** Gives the lease up at once, so another node may take it without waiting for expiry. */
  release(lease: Lease): Promise<void>;
  /** The node holding the model's lease, or null. */
  holder(modelId: string): Promise<string | null>;
  close(): Promise<void>;
}

/** A client's frame for the model's upstream socket, sent by whichever node the client is on. */
export interface SessionCommand {
  /** The JSON text to send up (an allow-listed act). */
  text: string;
  /** Set for `get_onlines`: the holder answers on the bus to `node` with this id. */
  reply?: { node: string; requestId: string };
}

/** The holder's answer to a command that asked for one. */
export interface SessionReply {
  requestId: string;
  /** The upstream's reply frame (JSON text), or absent with `error`. */
  text?: string;
  error?: { code: 'REQUEST_FAILED'; message: string };
}

export interface SessionBus {
  /** Holder side: receives the model's commands from every node until unsubscribed. */
  serve(modelId: string, handler: (command: SessionCommand) => void): () => void;
  /** Any node: sends a command to the model's holder; false when no holder listens. */
  send(modelId: string, command: SessionCommand): Promise<boolean>;
  /** Sends a reply to a node. */
  reply(node: string, reply: SessionReply): Promise<void>;
  /** Receives the replies addressed to this node. */
  onReply(handler: (reply: SessionReply) => void): () => void;
  close(): Promise<void>;
}

/**
 * Redis keys and channels shared by the cluster implementations (ownership grants fencing
 * tokens, the event log checks them). `prefix` is the `redisPrefix` setting.
 */
export function sessionKeys(prefix: string) {
  return {
    /** `<nodeId> <token>`, with a TTL: who holds the model's session. */
    lease: (modelId: string) => `${prefix}session:lease:${modelId}`,
    /** The latest fencing token granted for the model (INCR on every grant; never reset). */
    fence: (modelId: string) => `${prefix}session:fence:${modelId}`,
    /** The model's event log, a Redis Stream whose entry ids are the event ids. */
    log: (modelId: string) => `${prefix}session:log:${modelId}`,
    /** Pub/sub channel on which the append script publishes each batch it logged (./redis-log-feed.ts). */
    feed: (modelId: string) => `${prefix}session:feed:${modelId}`,
    /** Set of model ids that have a log (for size() and sweeping). */
    logs: `${prefix}session:logs`,
    /** Pub/sub channel of commands for the model's holder. */
    commands: (modelId: string) => `${prefix}session:cmd:${modelId}`,
    /** Pub/sub channel of replies to one node. */
    replies: (nodeId: string) => `${prefix}session:reply:${nodeId}`,
    /**
     * The cluster coordinator's hash of the model's relay-mode sockets (src/cluster: field = relay
     * id, value = node id) and its node registration keys: a lease is not granted while a live
     * node still relays the model on a socket of its own.
     */
    relaySlots: (modelId: string) => `${prefix}model:${modelId}`,
    nodePrefix: `${prefix}node:`,
  };
}

/** A model's session running on this node (the upstream side), as the host sees it. */
export interface RunningSession {
  /** Ends it: the upstream socket is closed before this resolves; then the host releases the lease. */
  stop(reason: string): Promise<void>;
  /** The lease was lost: stop at once, appending and sending nothing more. */
  abort(reason: string): void;
  /** The model's record changed (credentials updated, etc.): reconnect with them if needed. */
  modelChanged?(): void;
}

/** Starts a session for a model whose lease this node holds. */
export type SessionStarter = (modelId: string, orgId: string, lease: Lease) => RunningSession;
