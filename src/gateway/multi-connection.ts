/**
 * The client side of one socket for many models (`/api/ws`, sessions-contract.md §4): a
 * {@link ClientConnection} whose admission runs the key's checks once and each model's checks
 * on their own, and whose every admitted model is a {@link ModelMember} — indexed, limited
 * and changed on its own. A model refused or gone is told with an `error` frame naming it; the
 * socket ends only for what concerns them all (the key, the subscription) or when no model is
 * left.
 *
 *   admit: key checks 1–3 once ──▶ checks 4–6 per model ──▶ limits per model ──▶ MultiLink
 *                                        └── refused: told after the confirmation
 */
import { modelErrorFrame } from '../delivery/envelope.js';
import { GatewayError } from '../errors.js';
import type { Leg } from '../wire/leg.js';
import { admitKey, admitModel, recordKeyUse, relayModelRefused, type Admission, type ConnectionRequest } from './admission.js';
import { ClientConnection, type ConnectionContext } from './client-connection.js';
import { readMultiQuery, type MultiQuery } from './multi-query.js';
import type { ModelMembership } from './relay-registry.js';

/** A model refused at admission, or that left before the link opened. */
export interface ModelRefusal {
  modelId: string;
  error: GatewayError;
}

/** The codes that concern one model: it leaves the socket. Any other ends the socket (key, subscription). */
const MODEL_CODES: ReadonlySet<string> = new Set(['MODEL_NOT_FOUND', 'MODEL_NOT_CONNECTED', 'NO_WS_CREDENTIALS']);

/** One admitted model of a multi-model socket, as the registry and the change feed see it. */
export class ModelMember implements ModelMembership {
  readonly slotId: string;

  constructor(
    readonly connection: MultiModelConnection,
    readonly admission: Admission,
  ) {
    this.slotId = `${connection.id}:${admission.modelId}`;
  }

  get modelId(): string {
    return this.admission.modelId;
  }

  fail(error: GatewayError): void {
    if (MODEL_CODES.has(error.code)) this.connection.leave(this, error);
    else this.connection.fail(error);
  }

  deliveryChanged(delivery: string): void {
    if (delivery !== 'session') this.connection.leave(this, relayModelRefused());
  }

  keyExpiryChanged(expiresAt: string | null): void {
    this.connection.keyExpiryChanged(expiresAt);
  }
}

/** What the link is told when a model leaves an open socket. */
export interface MemberListener {
  memberLeft(member: ModelMember, error: GatewayError): void;
}

export class MultiModelConnection extends ClientConnection {
  /** What the query asked for; set by admission. */
  multi: MultiQuery = { models: [], events: undefined, since: new Map() };
  /** Admitted models still on the socket, in the order asked. */
  readonly members: ModelMember[] = [];
  /** Set by the link once it opened: told of models that leave. */
  listener: MemberListener | undefined;
  private refusals: ModelRefusal[] = [];

  constructor(
    client: Leg,
    ctx: ConnectionContext,
    private readonly maxModels: number,
  ) {
    super(client, ctx);
    this.query = { format: 'envelope', since: undefined };
  }

  override memberships(): Iterable<ModelMembership> {
    return this.members;
  }

  /** The refusals not yet told (the link tells them right after the confirmation). */
  takeRefusals(): ModelRefusal[] {
    const refusals = this.refusals;
    this.refusals = [];
    // In the order the client asked, whichever step refused them.
    const order = this.multi.models;
    return refusals.sort((a, b) => order.indexOf(a.modelId) - order.indexOf(b.modelId));
  }

  /**
   * Key checks once, then each model's checks (all at once: they only read the store). The
   * returned admission — the first admitted model's — carries what they share: the key, the
   * organization and the plan. @throws {GatewayError} the query's or the key's failure, or the
   * first model's refusal when none was admitted.
   */
  protected override async admit(request: ConnectionRequest, query: string): Promise<Admission> {
    const ctx = this.ctx;
    this.multi = readMultiQuery(query, this.maxModels);
    const holder = await admitKey(ctx.store, request, ctx.admissionLimits);
    const results = await Promise.allSettled(this.multi.models.map((id) => admitModel(ctx.store, holder, id, { health: ctx.health, sessionOnly: true })));
    results.forEach((result, i) => {
      const modelId = this.multi.models[i] as string;
      if (result.status === 'fulfilled') this.members.push(new ModelMember(this, result.value));
      else if (result.reason instanceof GatewayError) this.refusals.push({ modelId, error: result.reason });
      else throw result.reason;
    });
    const first = this.members[0];
    if (!first) throw this.noneAdmitted();
    recordKeyUse(ctx.store, holder.key);
    return first.admission;
  }

  /** Each model counts as a connection against the organization's limit and its own client cap. */
  protected override async countAgainstLimits(): Promise<GatewayError | undefined> {
    for (const member of [...this.members]) {
      if (!this.admitting) return undefined; // the client left, or a change closed it
      const overLimit = await this.ctx.onAdmitted(member);
      if (overLimit) this.drop(member, overLimit);
    }
    const first = this.members[0];
    if (!first) return this.noneAdmitted();
    this.admission = first.admission;
    return undefined;
  }

  /**
   * A model became unavailable (disconnected, removed, switched to relay): it leaves the socket
   * with an `error` frame; the others stay. The last one leaving ends the socket with its code.
   */
  leave(member: ModelMember, error: GatewayError): void {
    const i = this.members.indexOf(member);
    if (i === -1) return;
    this.members.splice(i, 1);
    this.ctx.onLeft(member);
    if (this.listener) this.listener.memberLeft(member, error);
    else this.refusals.push({ modelId: member.modelId, error });
    if (this.members.length === 0) this.fail(error);
  }

  override logFields(): Record<string, unknown> {
    return { ...super.logFields(), modelId: undefined, models: this.members.map((m) => m.modelId) };
  }

  /** A model refused by a limit before the socket opened: told with the others. */
  private drop(member: ModelMember, error: GatewayError): void {
    this.members.splice(this.members.indexOf(member), 1);
    this.refusals.push({ modelId: member.modelId, error });
  }

  /** No model admitted: each refusal as its frame, then the socket closes with the first one's code. */
  private noneAdmitted(): GatewayError {
    const refusals = this.takeRefusals();
    for (const r of refusals) this.client.sendText(modelErrorFrame(r.modelId, r.error));
    return (refusals[0] as ModelRefusal).error;
  }
}
