/**
 * The upstream side of a multi-model socket (sessions-contract.md §4): each admitted model's
 * feed on this node, as a {@link SessionLink} has one, all writing to the one client socket in
 * the envelope format, every frame naming its model. The confirmation lists the models
 * admitted and comes first; then an `error` frame per model refused; then the models' entries
 * (replayed from each model's `since` first). `events=` keeps only those OnlyFans event keys;
 * `status` and `gap` frames always pass.
 *
 * Client frames are `{"type": "send", "modelId", "requestId"?, "data": {…act…}}`: the act goes
 * up that model's session under the same allow-list as a single-model session client's.
 */
import { GatewayError } from '../errors.js';
import { eventFrame, firstKeyOf, gapFrame, modelErrorFrame, multiConfirmationFrame, readClientAct, readStatus, replyFrame, statusFrame } from '../delivery/envelope.js';
import type { FeedClient, ModelFeed } from '../delivery/model-feed.js';
import type { LogEntry } from '../sessions/types.js';
import type { ClientLink } from './client-link.js';
import type { MemberListener, ModelMember, MultiModelConnection } from './multi-connection.js';
import { SessionActs, type ActAnswer } from './session-acts.js';
import { SlowConsumerWatch } from './slow-consumer.js';
import type { SessionAccess } from './session-link.js';

/** One model's place in the socket: what its feed delivers to. */
class ModelSubscription implements FeedClient {
  /** Settles once the feed has it (or failed to); detaching waits for that. */
  attached: Promise<void> = Promise.resolve();
  /** The model left the socket: nothing more is written for it. */
  gone = false;
  /** A gap found while the socket was not confirmed yet: told right after the confirmation. */
  heldGap: { after: string | null; before: string } | undefined;

  constructor(
    readonly modelId: string,
    readonly feed: ModelFeed,
    private readonly link: MultiLink,
  ) {}

  deliver(entry: LogEntry): void {
    if (!this.gone) this.link.deliver(this.modelId, entry);
  }

  gap(after: string | null, before: string): void {
    if (this.gone) return;
    if (this.link.confirmed) this.link.send(gapFrame(this.modelId, after, before));
    else this.heldGap = { after, before };
  }

  get backedUp(): boolean {
    return this.link.backedUp;
  }

  failed(err: unknown): void {
    this.link.failed(err);
  }
}

export class MultiLink implements ClientLink, MemberListener {
  readonly upstream = null;
  readonly upstreamCloseCode = undefined;
  /** Sessions are never paused for one client: a slow client falls behind instead. */
  readonly upstreamPaused = false;
  readonly parsesClientFrames = true;
  private readonly subscriptions = new Map<ModelMember, ModelSubscription>();
  private readonly acts: SessionActs;
  private ended = false;
  /** The confirmation went out: entries may follow. */
  confirmed = false;
  private readonly slow: SlowConsumerWatch;

  constructor(
    private readonly host: MultiModelConnection,
    private readonly access: SessionAccess,
  ) {
    this.acts = new SessionActs(access, (requestId, answer) => this.answer(requestId, answer));
    this.slow = new SlowConsumerWatch(host, access.limits);
  }

  /**
   * Attaches every model to its feed first — each fixes its starting point (its `since`, or
   * the live tail) but takes no entry, reading as backed up — then sends the confirmation with
   * each model's starting point, then lets every model catch up. So the confirmation comes
   * first and nothing appended after it is missed.
   */
  start(): void {
    if (this.access.unavailable) {
      this.ended = true;
      this.host.close(1011, 'session mode needs redis when gateways share a store', 'SESSIONS_UNAVAILABLE');
      this.host.linkClosed();
      return;
    }
    const starts = this.host.members.map((member) => {
      const sub = new ModelSubscription(member.modelId, this.access.feed(member.modelId), this);
      this.subscriptions.set(member, sub);
      this.access.attached(sub, true);
      return new Promise<StartingPoint | undefined>((resolve) => {
        sub.attached = sub.feed
          .attach(sub, this.host.multi.since.get(member.modelId), (lastEventId, resumed) => resolve({ modelId: member.modelId, lastEventId, resumed }))
          .catch((err: unknown) => {
            resolve(undefined);
            if (!sub.gone) sub.failed(err);
          });
      });
    });
    void Promise.all(starts).then((points) => this.confirm(points));
  }

  private confirm(points: readonly (StartingPoint | undefined)[]): void {
    if (this.ended) return;
    const host = this.host;
    // Models that left while attaching are told with the refusals.
    for (const member of [...this.subscriptions.keys()]) if (!host.members.includes(member)) this.unsubscribe(member);
    const lastEventIds: Record<string, string | null> = {};
    const resumed: Record<string, boolean> = {};
    for (const p of points) {
      if (!p || !this.isOn(p.modelId)) continue;
      lastEventIds[p.modelId] = p.lastEventId;
      resumed[p.modelId] = host.multi.since.has(p.modelId) && p.resumed;
    }
    host.open(multiConfirmationFrame({ models: host.members.map((m) => m.modelId), lastEventIds, resumed }));
    if (this.ended) return; // a held message ended it while being released
    for (const r of host.takeRefusals()) this.send(modelErrorFrame(r.modelId, r.error));
    this.confirmed = true;
    host.listener = this;
    for (const sub of this.subscriptions.values()) {
      if (sub.heldGap) this.send(gapFrame(sub.modelId, sub.heldGap.after, sub.heldGap.before));
      sub.heldGap = undefined;
      sub.feed.drained(sub);
    }
  }

  private isOn(modelId: string): boolean {
    return this.host.members.some((m) => m.modelId === modelId);
  }

  // ── for the subscriptions ──────────────────────────────────────────────────

  deliver(modelId: string, entry: LogEntry): void {
    if (this.ended) return;
    if (entry.kind === 'status') {
      const status = readStatus(entry.data);
      this.send(statusFrame(modelId, status.upstream, status.reason));
      return;
    }
    const events = this.host.multi.events;
    // A frame that is not a JSON object has no event key: a filter never keeps it.
    if (events && (entry.binary || !events.has(firstKeyOf(entry.data.toString('utf8')) ?? ''))) return;
    this.host.delivered(entry.data.length);
    this.send(eventFrame(modelId, entry.id, entry.ts, entry.data, entry.binary));
  }

  send(frame: string): void {
    if (!this.ended) this.host.client.sendText(frame);
  }

  /** The socket's buffer, shared by every model: one slow reader slows all of its models, no other client. */
  get backedUp(): boolean {
    if (!this.confirmed) return true;
    return this.slow.behind();
  }

  /** A log read failed (the log's store is away): it concerns every model, so the socket ends. */
  failed(err: unknown): void {
    this.host.failInternal(err);
  }

  // ── MemberListener ─────────────────────────────────────────────────────────

  memberLeft(member: ModelMember, error: GatewayError): void {
    this.send(modelErrorFrame(member.modelId, error));
    this.unsubscribe(member);
  }

  // ── ClientLink ─────────────────────────────────────────────────────────────

  fromClient(_frames: Buffer, payload: Buffer | undefined, binary: boolean): void {
    if (this.ended) return;
    const act = readClientAct(payload, binary);
    const target = sendTarget(payload, binary);
    const member = this.host.members.find((m) => m.modelId === target.modelId);
    // Raw {"act":…} frames are not taken here: they cannot say which model they are for.
    if (act.ok && (!target.send || !member)) {
      return this.acts.refuse(act.requestId, 'ACTION_NOT_ALLOWED', 'A frame on /api/ws must be {"type":"send","modelId":…,"data":{…}} with the modelId of a model on this socket');
    }
    this.acts.forward(member?.modelId ?? '', this.host.admission?.plan ?? null, act);
  }

  private answer(requestId: string | undefined, answer: ActAnswer): void {
    this.send(replyFrame(requestId, answer));
  }

  clientDrained(): void {
    if (this.ended || !this.slow.drained()) return;
    for (const sub of this.subscriptions.values()) sub.feed.drained(sub);
  }

  clientClosing(): void {
    this.close();
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.slow.stop();
    for (const member of [...this.subscriptions.keys()]) this.unsubscribe(member);
    this.host.linkClosed();
  }

  heartbeat(): void {
    // The sessions keep their own upstream heartbeats.
  }

  destroy(): void {
    this.close();
  }

  private unsubscribe(member: ModelMember): void {
    const sub = this.subscriptions.get(member);
    if (!sub) return;
    this.subscriptions.delete(member);
    sub.gone = true;
    this.access.attached(sub, false);
    // A feed still attaching would add it after a detach: detach once the feed has it.
    void sub.attached.then(() => sub.feed.detach(sub));
  }
}

/** Where a model starts on this socket, for the confirmation. */
interface StartingPoint {
  modelId: string;
  lastEventId: string | null;
  resumed: boolean;
}

/** Whether a client frame is an envelope `send`, and the model it names. */
function sendTarget(payload: Buffer | undefined, binary: boolean): { send: boolean; modelId: string | undefined } {
  if (binary || payload === undefined) return { send: false, modelId: undefined };
  try {
    const value = JSON.parse(payload.toString('utf8')) as { type?: unknown; modelId?: unknown } | null;
    return { send: value?.type === 'send', modelId: typeof value?.modelId === 'string' ? value.modelId.toLowerCase() : undefined };
  } catch {
    return { send: false, modelId: undefined };
  }
}
