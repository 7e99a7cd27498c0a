/**
 * Session mode's upstream side for one client (sessions-contract.md §3): no socket of its own;
 * the client is attached to its model's feed on this node (every logged entry once, in order,
 * replayed from `since` first) and its frames go to the model's session, wherever it runs.
 *
 * Raw format is the base contract: the confirmation, then each event as the bytes and frame
 * type that arrived; status entries are not shown (the client simply receives nothing while
 * the upstream is away). Envelope format adds ids, `status`, `gap` and `reply` frames.
 */
import { GatewayError } from '../errors.js';
import { confirmationFrame, rawConfirmationFrame, eventFrame, gapFrame, readClientAct, readStatus, replyFrame, statusFrame } from '../delivery/envelope.js';
import type { ModelFeed, FeedClient } from '../delivery/model-feed.js';
import type { LogEntry } from '../sessions/types.js';
import { encodeFrame, Opcode } from '../wire/frames.js';
import type { Admission } from './admission.js';
import type { ClientLink } from './client-link.js';
import type { ClientConnection, ConnectionSettings } from './client-connection.js';
import { SessionActs, type ActAnswer } from './session-acts.js';
import { SlowConsumerWatch } from './slow-consumer.js';

/** What a session link needs from the node's sessions. */
export interface SessionAccess {
  /** The model's feed on this node (made on first use). */
  feed(modelId: string): ModelFeed;
  /** Sends a frame up the model's session socket. @throws Error when it could not go up. */
  send(modelId: string, text: string): Promise<void>;
  /** A get_onlines through the model's session: its reply text. @throws Error when none came. */
  request(modelId: string, text: string): Promise<string>;
  /** The acts a plan may send up a shared socket. */
  allowedActs(plan: string | null): readonly string[];
  limits: ConnectionSettings;
  /** Why this node cannot serve session clients, if it cannot. */
  readonly unavailable: string | undefined;
  /** A client (a session link, a multi-model membership or an SSE stream) attached or left (for the per-model client count and metrics). */
  attached(client: { readonly modelId: string }, on: boolean): void;
}

export class SessionLink implements ClientLink, FeedClient {
  readonly upstream = null;
  readonly upstreamCloseCode = undefined;
  /** A session is never paused for one client: a slow client falls behind instead. */
  readonly upstreamPaused = false;
  readonly parsesClientFrames = true;
  private readonly envelope: boolean;
  private feedRef: ModelFeed | undefined;
  private ended = false;
  private opened = false;
  private readonly slow: SlowConsumerWatch;
  private readonly acts: SessionActs;

  constructor(
    private readonly host: ClientConnection,
    private readonly access: SessionAccess,
  ) {
    this.envelope = host.query.format === 'envelope';
    this.acts = new SessionActs(access, (requestId, answer) => this.answer(requestId, answer));
    this.slow = new SlowConsumerWatch(host, access.limits);
  }

  private get admission(): Admission {
    return this.host.admission as Admission;
  }

  get modelId(): string {
    return this.admission.modelId;
  }

  start(): void {
    const unavailable = this.access.unavailable;
    if (unavailable) {
      this.ended = true;
      // The whole reason is in this node's log; the close reason must fit 123 bytes.
      this.host.close(1011, 'session mode needs redis when gateways share a store', 'SESSIONS_UNAVAILABLE');
      this.host.linkClosed();
      return;
    }
    const modelId = this.modelId;
    const feed = this.access.feed(modelId);
    this.feedRef = feed;
    this.access.attached(this, true);
    const confirm = (lastEventId: string | null, resumed: boolean): void => {
      if (this.ended) return;
      this.opened = true;
      this.host.open(this.envelope ? confirmationFrame({ modelId, lastEventId, resumed: this.host.query.since === undefined ? false : resumed }) : rawConfirmationFrame(modelId));
    };
    feed.attach(this, this.host.query.since, confirm).catch((err: unknown) => this.failed(err));
  }

  // ── FeedClient ─────────────────────────────────────────────────────────────

  deliver(entry: LogEntry): void {
    if (this.ended || !this.opened) return;
    const client = this.host.client;
    if (entry.kind === 'status') {
      if (!this.envelope) return;
      const status = readStatus(entry.data);
      client.sendText(statusFrame(this.modelId, status.upstream, status.reason));
      return;
    }
    this.host.delivered(entry.data.length);
    client.write(this.envelope ? envelopeFrameOf(this.modelId, entry) : rawFrameOf(entry));
  }

  gap(after: string | null, before: string): void {
    if (this.ended) return;
    if (this.envelope) {
      this.host.client.sendText(gapFrame(this.modelId, after, before));
      return;
    }
    // Raw frames cannot say what was lost: a raw client that fell past the log's end is closed.
    this.host.fail(new GatewayError('SLOW_CONSUMER', 'The client fell behind past what the event log keeps'));
  }

  get backedUp(): boolean {
    return this.slow.behind();
  }

  failed(err: unknown): void {
    this.host.failInternal(err);
  }

  // ── ClientLink ─────────────────────────────────────────────────────────────

  fromClient(_frames: Buffer, payload: Buffer | undefined, binary: boolean): void {
    if (this.ended) return;
    this.acts.forward(this.modelId, this.admission.plan, readClientAct(payload, binary));
  }

  /** Answers one client frame; a refusal leaves the socket open (contract §3). */
  private answer(requestId: string | undefined, answer: ActAnswer): void {
    if (this.ended) return;
    const client = this.host.client;
    if ('text' in answer) client.sendText(this.envelope ? replyFrame(requestId, answer) : answer.text);
    else if (this.envelope) client.sendText(replyFrame(requestId, answer));
    else client.sendText(new GatewayError(answer.code, answer.error).toFrame());
  }

  clientDrained(): void {
    if (this.ended || !this.slow.drained()) return;
    this.feedRef?.drained(this);
  }

  clientClosing(): void {
    this.close();
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.slow.stop();
    this.feedRef?.detach(this);
    this.access.attached(this, false);
    this.host.linkClosed();
  }

  heartbeat(): void {
    // The session keeps its own upstream heartbeat.
  }

  destroy(): void {
    this.close();
  }
}

/**
 * A logged entry's frame, encoded once for all its clients (the follower hands every live
 * client the same entry object): the raw frame, or the envelope's `event` frame (the model
 * and the entry decide it whole). Server frames are unmasked, so the bytes are the same for
 * every client; kept only as long as the entry is.
 */
const RAW_FRAMES = new WeakMap<LogEntry, Buffer>();
const ENVELOPE_FRAMES = new WeakMap<LogEntry, Buffer>();

function rawFrameOf(entry: LogEntry): Buffer {
  let frame = RAW_FRAMES.get(entry);
  if (frame === undefined) RAW_FRAMES.set(entry, (frame = encodeFrame(entry.binary ? Opcode.Binary : Opcode.Text, entry.data, false)));
  return frame;
}

function envelopeFrameOf(modelId: string, entry: LogEntry): Buffer {
  let frame = ENVELOPE_FRAMES.get(entry);
  if (frame === undefined) {
    frame = encodeFrame(Opcode.Text, Buffer.from(eventFrame(modelId, entry.id, entry.ts, entry.data, entry.binary)), false);
    ENVELOPE_FRAMES.set(entry, frame);
  }
  return frame;
}
