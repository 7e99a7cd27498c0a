/**
 * The gateway's envelope format (sessions-contract.md §3) as this SDK reads it: every frame is a
 * JSON object with a `type` (`event`, `status`, `gap`, `reply`), events carry the id a client
 * resumes from with `since`. The codec knows no sockets; the client core uses it.
 */
import { asFrame, type OnlyFansFrame } from './onlyfans-events.js';

/** `raw` (default): OnlyFans frames as they came; `envelope`: typed frames with ids and resume. */
export type ClientFormat = 'raw' | 'envelope';

/** The upstream's state, as a session-mode gateway tells it (`status` frames). */
export type UpstreamState = 'connected' | 'reconnecting' | 'down';

/** One OnlyFans message as an envelope `event`. */
export interface EnvelopeEvent {
  /**
   * The event's id in the model's log: opaque, compare only for equality, pass back as `since`.
   * Undefined for a model in relay mode (no log, no ids).
   */
  id: string | undefined;
  modelId: string;
  /** When the gateway received it, in milliseconds since the epoch. */
  ts: number;
  /** The frame's first top-level key, its OnlyFans event type (e.g. `api2_chat_message`); null when the frame is not a JSON object. */
  event: string | null;
  /** The OnlyFans frame as parsed JSON; undefined when it is not a JSON object (see `bytes`). */
  data: OnlyFansFrame | undefined;
  /**
   * The message's bytes when the gateway sent them base64: a binary frame, or text that is not
   * a JSON object. A binary frame holding JSON is parsed into `data` too, as in raw format.
   */
  bytes: Uint8Array | undefined;
}

/** A `status` frame: the gateway's OnlyFans socket for the model changed state. */
export interface UpstreamStatus {
  modelId: string;
  upstream: UpstreamState;
  /** Why, when the gateway says (human text). */
  reason?: string;
}

/**
 * A `gap` frame: the events after `after` (null: from the log's start) and before `before` are
 * not available any more (older than the log keeps, or `since` was unknown). Nothing will fill it.
 */
export interface GapInfo {
  modelId: string;
  after: string | null;
  before: string;
}

/** What the gateway's confirmation said. */
export interface Confirmation {
  modelId: string;
  format: ClientFormat;
  /**
   * Envelope format, session-mode model: the newest id in the model's log when the connection
   * was confirmed (null: the log is empty). Not the client's own {@link OfgwClient.lastEventId}.
   */
  lastEventId?: string | null;
  /** Envelope format, session-mode model: true when the resume from `since` lost nothing (a `gap` follows otherwise). */
  resumed?: boolean;
  /** Multi-model socket: the models admitted (the others come as `modelError` events). */
  models?: string[];
  /** Multi-model socket: each admitted model's newest logged id when it attached. */
  lastEventIds?: Record<string, string | null>;
  /** Multi-model socket: per model, true when its `since` was given and nothing after it was lost. */
  resumedModels?: Record<string, boolean>;
}

/** An envelope frame the client acts on; `unknown` for a type this SDK does not know (ignored). */
export type EnvelopeFrame =
  | { type: 'event'; event: EnvelopeEvent }
  | { type: 'status'; status: UpstreamStatus }
  | { type: 'gap'; gap: GapInfo }
  | { type: 'reply'; frame: Record<string, unknown> }
  | { type: 'unknown' };

const UPSTREAM_STATES: ReadonlySet<string> = new Set<UpstreamState>(['connected', 'reconnecting', 'down']);

/** Reads a parsed envelope frame (not the confirmation, not an error frame). */
export function readEnvelopeFrame(frame: Record<string, unknown>, modelId: string): EnvelopeFrame {
  switch (frame.type) {
    case 'event':
      return { type: 'event', event: readEvent(frame, modelId) };
    case 'status': {
      const upstream = typeof frame.upstream === 'string' && UPSTREAM_STATES.has(frame.upstream) ? (frame.upstream as UpstreamState) : 'down';
      return { type: 'status', status: { modelId, upstream, ...(typeof frame.reason === 'string' ? { reason: frame.reason } : {}) } };
    }
    case 'gap':
      return { type: 'gap', gap: { modelId, after: typeof frame.after === 'string' ? frame.after : null, before: String(frame.before) } };
    case 'reply':
      return { type: 'reply', frame };
    default:
      return { type: 'unknown' };
  }
}

function readEvent(frame: Record<string, unknown>, modelId: string): EnvelopeEvent {
  const id = typeof frame.id === 'string' ? frame.id : undefined;
  const ts = typeof frame.ts === 'number' ? frame.ts : Date.now();
  if (frame.encoding === 'base64' && typeof frame.data === 'string') {
    const bytes = decodeBase64(frame.data);
    const data = asFrame(parseUtf8Json(bytes));
    return { id, modelId, ts, event: data ? firstKey(data) : null, data, bytes };
  }
  const data = asFrame(frame.data);
  const event = typeof frame.event === 'string' ? frame.event : data ? firstKey(data) : null;
  return { id, modelId, ts, event, data, bytes: undefined };
}

/** A frame's first top-level key: its OnlyFans event type. */
export function firstKey(frame: OnlyFansFrame): string {
  for (const key in frame) return key;
  return '';
}

/** `atob` exists in browsers and in Node ≥ 16, so both entries share this. */
export function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The JSON in UTF-8 bytes, or undefined when they hold none. */
export function parseUtf8Json(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch {
    return undefined;
  }
}

/** How many delivered ids the duplicate guard remembers. */
const RECENT_IDS = 1024;

/**
 * The ids delivered last, to drop an event delivered already. The gateway promises each event
 * once and in order across a resume; this guard costs little and holds even if a replay and a
 * live tail overlap (e.g. across a node failover). Ids are opaque: compared for equality only,
 * never ordered. Bounded: the oldest id is forgotten when a new one comes.
 */
export class RecentIds {
  private readonly ids = new Set<string>();

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > RECENT_IDS) {
      // A Set iterates in insertion order: its first value is the oldest.
      for (const oldest of this.ids) {
        this.ids.delete(oldest);
        break;
      }
    }
  }
}

/** The query string of one connection attempt: the format, and where to resume. */
export function deliveryQuery(format: ClientFormat, since: string | undefined): string {
  if (format === 'raw') return '';
  return since === undefined ? '?format=envelope' : `?format=envelope&since=${encodeURIComponent(since)}`;
}
