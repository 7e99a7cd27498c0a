/**
 * Relay mode's upstream side (contract §2–§4): the connection's own OnlyFans socket, opened
 * with the model's credentials once the client is admitted (check 7), relayed 1:1.
 *
 * Raw format relays the bytes that arrived — a read's worth of messages in one write — so
 * bytes, frame type and fragmentation reach the other side untouched; pings stay on their own
 * leg. Envelope format (sessions-contract.md §3, "minus ids and resume") wraps each upstream
 * message in an `event` frame and unwraps what the client sends.
 */
import { LegProtocolError, type Leg, type LegOwner } from '../wire/leg.js';
import { BAD_GATEWAY, clientCloseCodeFor } from '../wire/close-codes.js';
import { GatewayError } from '../errors.js';
import { connectUpstream, type UpstreamAttempt, type UpstreamConnectError, type UpstreamHandlers, type UpstreamLimits, type UpstreamTarget } from '../upstream/connector.js';
import { RefreshError } from '../upstream/credential-refresh.js';
import { CONNECTED_REPLY_MAX_BYTES, isConnectedReply } from '../upstream/replies.js';
import { confirmationFrame, rawConfirmationFrame, eventFrame, readClientAct, replyFrame } from '../delivery/envelope.js';
import type { Admission } from './admission.js';
import type { ClientLink } from './client-link.js';
import type { ClientConnection, ConnectionSettings } from './client-connection.js';
import { SlowConsumerWatch } from './slow-consumer.js';
import type { UpstreamHealth } from './upstream-health.js';

export interface RelayLinkContext {
  health: UpstreamHealth;
  upstreamLimits: UpstreamLimits;
  limits: ConnectionSettings;
}

/** Envelope requests waiting for an `online` reply, oldest first (bounded). */
const MAX_WAITING_REPLIES = 16;

export class RelayLink implements ClientLink, UpstreamHandlers, LegOwner {
  upstream: Leg | null = null;
  upstreamCloseCode: number | undefined;
  readonly parsesClientFrames: boolean;
  upstreamPaused = false;
  upstreamAlive = true;

  private attempt: UpstreamAttempt | null = null;
  /** Set once a rejected token was refreshed and retried: one retry per relay. */
  private retried = false;
  private opened = false;
  private ended = false;
  private upstreamClosed = true;
  private upstreamFailure: string | undefined;
  /** The slow-consumer clock, shared with the session links. */
  private readonly slow: SlowConsumerWatch;
  private readonly envelope: boolean;
  private waitingReplies: (string | undefined)[] = [];

  constructor(
    private readonly host: ClientConnection,
    private readonly ctx: RelayLinkContext,
  ) {
    this.envelope = host.query.format === 'envelope';
    this.parsesClientFrames = this.envelope;
    this.slow = new SlowConsumerWatch(host, ctx.limits);
  }

  private get admission(): Admission {
    return this.host.admission as Admission;
  }

  start(): void {
    this.attempt = connectUpstream(this.admission.target as UpstreamTarget, this.ctx.upstreamLimits, this);
  }

  /** {@link UpstreamHandlers.ready}: the upstream confirmed; open the relay. */
  ready(upstream: Leg): void {
    this.attempt = null;
    // The credentials were for opening the socket: a live relay keeps no secret.
    this.admission.target = null;
    this.upstream = upstream;
    this.upstreamClosed = false;
    upstream.owner = this;
    if (this.ended) {
      upstream.close(1000);
      return;
    }
    if (this.envelope) upstream.payloads = true;
    this.opened = true;
    const modelId = this.admission.modelId;
    this.host.open(this.envelope ? confirmationFrame({ modelId }) : rawConfirmationFrame(modelId));
  }

  /** {@link UpstreamHandlers.failed}: check 7 failed. */
  failed(error: UpstreamConnectError): void {
    this.attempt = null;
    if (error.stage === 'proxy') this.ctx.health.proxyFailed(this.admission, error);
    if (error.tokenRejected) {
      void this.onTokenRejected(error);
      return;
    }
    this.finishWith(new GatewayError('WS_CONNECT_ERROR', error.message, { stage: error.stage }));
  }

  /** Marks the token rejected; with a refresh endpoint, tries once more with fresh credentials. */
  private async onTokenRejected(error: UpstreamConnectError): Promise<void> {
    const admission = this.admission;
    let message = error.message;
    try {
      await this.ctx.health.tokenRejected(admission, (admission.target as UpstreamTarget).wsToken, error);
      if (this.ctx.health.canRefresh && !this.retried && !this.ended) {
        this.retried = true;
        const target = await this.ctx.health.refresh(admission, 'rejected');
        if (this.ended) return this.host.linkClosed();
        admission.target = target;
        this.attempt = connectUpstream(target, this.ctx.upstreamLimits, this);
        return;
      }
    } catch (err) {
      if (!(err instanceof RefreshError)) this.host.logger.error({ err, ...this.host.logFields() }, 'handling a rejected token failed');
      else message = `${message}; refreshing the credentials failed: ${err.message}`;
    }
    this.finishWith(new GatewayError('WS_CONNECT_ERROR', message, { stage: error.stage }));
  }

  /** No upstream was opened: the link is done, the client gets the error. */
  private finishWith(error: GatewayError): void {
    this.ended = true;
    this.host.fail(error);
    this.host.linkClosed();
  }

  // ── from the client side ───────────────────────────────────────────────────

  fromClient(frames: Buffer, payload: Buffer | undefined, binary: boolean): void {
    const upstream = this.upstream;
    if (!upstream || this.ended) return;
    if (this.envelope) {
      const act = readClientAct(payload, binary);
      if (!act.ok) {
        this.host.client.sendText(replyFrame(act.requestId, { code: 'BAD_REQUEST', error: act.error }));
        return;
      }
      if (act.act === 'get_onlines') {
        if (this.waitingReplies.length >= MAX_WAITING_REPLIES) {
          this.host.client.sendText(replyFrame(act.requestId, { code: 'REQUEST_FAILED', error: `more than ${MAX_WAITING_REPLIES} get_onlines requests waiting` }));
          return;
        }
        this.waitingReplies.push(act.requestId);
      }
      upstream.sendText(act.text);
    } else {
      upstream.write(frames);
    }
    if (upstream.bufferedAmount <= this.ctx.limits.highWaterBytes || this.host.clientPaused || this.upstreamFailure) return;
    this.host.pauseClient();
  }

  clientDrained(): void {
    if (this.upstreamPaused && this.slow.drained()) {
      this.upstreamPaused = false;
      this.upstream?.resume();
    }
  }

  clientClosing(code: number, reason: Buffer | string): void {
    this.close(code, reason);
  }

  close(code: number, reason: Buffer | string): void {
    this.beginEnding();
    if (this.attempt) {
      this.attempt.abort();
      this.attempt = null;
      this.host.linkClosed();
      return;
    }
    if (!this.upstream) {
      // Nothing was opened (the connection ends before or instead of the upstream attempt).
      if (!this.opened) this.host.linkClosed();
      return;
    }
    if (!this.upstreamClosed) this.upstream.close(code, reason);
  }

  heartbeat(): void {
    const upstream = this.upstream;
    if (!upstream || this.ended) return;
    if (!this.upstreamAlive && !this.upstreamPaused) {
      this.upstreamFailure = 'upstream heartbeat timeout';
      upstream.terminate();
      return;
    }
    this.upstreamAlive = false;
    upstream.ping();
  }

  destroy(): void {
    this.upstream?.terminate();
    if (this.attempt) {
      this.attempt.abort();
      this.attempt = null;
      this.host.linkClosed();
    }
  }

  // ── the upstream leg (LegOwner) ────────────────────────────────────────────

  /**
   * A `connected: true` reply from the upstream is consumed, whenever it comes: the first is the
   * handshake's (the connector's), a later one answers a connect act the client sent itself.
   * To a client, a frame with `connected: true` is the gateway's confirmation.
   */
  legMessage(leg: Leg, size: number): boolean {
    if (this.ended || !this.opened) return false;
    if (size <= CONNECTED_REPLY_MAX_BYTES && isConnectedReply(leg.messagePayload())) return false;
    const traffic = this.host.traffic;
    traffic.messagesToClient++;
    traffic.bytesToClient += size;
    return true;
  }

  legData(_leg: Leg, frames: Buffer): void {
    if (!this.ended && this.opened) this.toClient(frames);
  }

  /** Envelope format: each upstream message as an `event` (or the `reply` to a get_onlines). */
  legPayload(_leg: Leg, payload: Buffer, binary: boolean): void {
    if (this.ended || !this.opened) return;
    if (payload.length <= CONNECTED_REPLY_MAX_BYTES && isConnectedReply(payload)) return;
    const client = this.host.client;
    let text: string;
    if (!binary && this.waitingReplies.length > 0 && payload.subarray(0, 12).toString('latin1').replace(/\s/g, '').startsWith('{"online"')) {
      text = replyFrame(this.waitingReplies.shift(), { text: payload.toString('utf8') });
    } else {
      text = eventFrame(this.admission.modelId, undefined, Date.now(), payload, binary);
    }
    this.host.delivered(payload.length);
    client.sendText(text);
    this.checkClientBuffer();
  }

  legPong(): void {
    this.upstreamAlive = true;
  }

  legFlushed(): void {
    const conn = this.host;
    if (conn.clientPaused && conn.isOpen && !this.upstreamIsBackedUp()) conn.resumeClient();
  }

  /** The upstream stopped reading: it is dropped and the client gets 1014. */
  legOverflow(leg: Leg): void {
    this.upstreamFailure ??= 'upstream stopped reading';
    leg.terminate();
  }

  legCloseFrame(_leg: Leg, code: number, reason: Buffer): void {
    this.upstreamClosing(code, reason);
  }

  legError(_leg: Leg, err: Error & { code?: string }): void {
    const protocol = err instanceof LegProtocolError;
    this.upstreamFailure ??= protocol ? `upstream sent ${err.message}` : `upstream socket error: ${err.code ?? 'unknown'}`;
    // The leg closes itself; a socket error is followed by its close.
    if (protocol && !this.ended) this.closeForFailedUpstream(this.upstreamFailure);
  }

  legClosed(_leg: Leg, code: number, reason: Buffer): void {
    this.upstreamClosing(code, reason);
    this.upstreamClosed = true;
    this.upstreamCloseCode ??= code;
    this.host.linkClosed();
  }

  // ── internals ──────────────────────────────────────────────────────────────

  /** Relays to the client; above the high-water mark the upstream is paused (past the hard cap: SLOW_CONSUMER). */
  private toClient(frames: Buffer): void {
    this.host.client.write(frames);
    this.checkClientBuffer();
  }

  /** Above the high-water mark the upstream is paused and the slow-consumer clock runs. */
  private checkClientBuffer(): void {
    if (this.upstreamPaused || !this.host.isOpen || !this.slow.behind()) return;
    this.upstreamPaused = true;
    this.upstream?.pause();
  }

  /** The upstream closed (its close frame, or the socket without one: 1006). */
  private upstreamClosing(code: number, reason: Buffer): void {
    if (this.ended) return;
    this.upstreamCloseCode = code;
    if (this.upstreamFailure) {
      this.closeForFailedUpstream(this.upstreamFailure);
    } else {
      this.beginEnding();
      const clientCode = clientCloseCodeFor(code);
      this.host.close(clientCode, clientCode === code ? reason : 'upstream closed without a close frame', clientCode === BAD_GATEWAY ? 'UPSTREAM_CLOSED_ABNORMALLY' : 'ok');
    }
  }

  /** The upstream failed (protocol error, dead heartbeat, write stall): 1014 with the cause. */
  private closeForFailedUpstream(failure: string): void {
    this.beginEnding();
    this.host.close(BAD_GATEWAY, failure, 'UPSTREAM_FAILED');
  }

  private beginEnding(): void {
    if (this.ended) return;
    this.ended = true;
    this.upstream?.flush();
    this.upstream?.resume();
    this.slow.stop();
    this.waitingReplies = [];
  }

  private upstreamIsBackedUp(): boolean {
    return (this.upstream?.bufferedAmount ?? 0) >= this.ctx.limits.lowWaterBytes;
  }
}
