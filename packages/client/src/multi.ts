/**
 * One socket for many models (`/api/ws`, sessions-contract.md §4): the same client core as
 * {@link OfgwClient} — reconnection policy, typed errors, typed events — over a socket that
 * carries several session-mode models in the envelope format. Every reconnect resumes each
 * model after the last event delivered for it.
 */
import { OfgwClient, type ClientOptions } from './client.js';
import type { Confirmation, EnvelopeEvent } from './envelope.js';
import type { SocketFactory } from './socket.js';

/** How to connect to several models; `baseUrl`, `models` and `apiKey` are required. */
export interface ManyOptions extends Omit<ClientOptions, 'modelId' | 'format' | 'since'> {
  /** The models' ids (UUIDs), at most the gateway's `maxModelsPerSocket` (default 100). */
  models: readonly string[];
  /** Only these OnlyFans event keys (e.g. `['api2_chat_message']`); `status` and `gap` always come. Default: every event. */
  events?: readonly string[];
  /** Resume each model after these ids on the first connection too (a `lastEventIds` you saved). */
  since?: Readonly<Record<string, string>>;
}

/**
 * A client for several models on one socket. Get one from `connectMany()`. Events carry their
 * `modelId`; a model refused or gone comes as a `modelError` event, the others stay.
 *
 * @example
 * const client = await connectMany({ baseUrl, models: [a, b], apiKey, events: ['api2_chat_message'] })
 * client.on('event', (e) => console.log(e.modelId, e.event, e.data))
 * client.on('modelError', ({ modelId, error }) => console.warn(modelId, error.code))
 */
export class OfgwMultiClient extends OfgwClient {
  readonly models: readonly string[];
  private readonly events: readonly string[] | undefined;
  private readonly lastIds = new Map<string, string>();
  private sends = 0;

  /** @internal Use `connectMany()`. */
  constructor(options: ManyOptions, factory: SocketFactory) {
    const models = checkModels(options);
    super({ ...options, modelId: models[0] as string, format: 'envelope', since: undefined }, factory);
    this.models = models;
    this.events = checkEvents(options.events);
    for (const [modelId, id] of Object.entries(checkSince(options.since, models))) this.lastIds.set(modelId, id);
  }

  /** The id of the last event delivered per model (with the `since` ones until events come): save it to resume after a restart. */
  get lastEventIds(): Record<string, string> {
    return Object.fromEntries(this.lastIds);
  }

  /**
   * Sends an OnlyFans act up one model's shared session (the gateway's allow-list applies); a
   * refusal comes as an `error` event whose `requestId` is the one returned. Throws
   * `NOT_CONNECTED` when no socket is open.
   */
  sendTo(modelId: string, act: object): string {
    const requestId = `m${++this.sends}`;
    this.send(JSON.stringify({ type: 'send', modelId, requestId, data: act }));
    return requestId;
  }

  protected override attemptUrl(): string {
    const query = [`models=${this.models.map(encodeURIComponent).join(',')}`];
    if (this.events) query.push(`events=${this.events.map(encodeURIComponent).join(',')}`);
    const since = [...this.lastIds].map(([modelId, id]) => `${encodeURIComponent(modelId)}:${encodeURIComponent(id)}`);
    if (since.length > 0) query.push(`since=${since.join(',')}`);
    return `${this.gatewayUrl}/api/ws?${query.join('&')}`;
  }

  protected override noteDelivered(event: EnvelopeEvent & { id: string }): void {
    this.lastIds.set(event.modelId, event.id);
  }

  protected override readConfirmation(frame: Record<string, unknown>): Confirmation {
    const models = Array.isArray(frame.models) ? frame.models.filter((m): m is string => typeof m === 'string') : [];
    const confirmation: Confirmation = { modelId: models[0] ?? this.modelId, format: 'envelope', models };
    if (typeof frame.lastEventIds === 'object' && frame.lastEventIds !== null) confirmation.lastEventIds = frame.lastEventIds as Record<string, string | null>;
    if (typeof frame.resumed === 'object' && frame.resumed !== null) confirmation.resumedModels = frame.resumed as Record<string, boolean>;
    return confirmation;
  }
}

function checkModels(options: ManyOptions): string[] {
  if (typeof options !== 'object' || options === null) throw new TypeError('connectMany(options): options must be an object');
  const { models } = options;
  if (!Array.isArray(models) || models.length === 0 || !models.every((m) => typeof m === 'string' && m !== '' && !m.includes(','))) {
    throw new TypeError('connectMany(options): models must be a non-empty array of model ids');
  }
  return [...new Set(models.map((m) => m.toLowerCase()))];
}

function checkEvents(events: readonly string[] | undefined): readonly string[] | undefined {
  if (events === undefined) return undefined;
  if (!Array.isArray(events) || events.length === 0 || !events.every((e) => typeof e === 'string' && e !== '' && !e.includes(','))) {
    throw new TypeError('connectMany(options): events must be a non-empty array of OnlyFans event keys');
  }
  return [...events];
}

function checkSince(since: Readonly<Record<string, string>> | undefined, models: readonly string[]): Record<string, string> {
  if (since === undefined) return {};
  if (typeof since !== 'object' || since === null) throw new TypeError('connectMany(options): since must be an object of model id → event id');
  const out: Record<string, string> = {};
  for (const [modelId, id] of Object.entries(since)) {
    const model = modelId.toLowerCase();
    if (!models.includes(model)) throw new TypeError(`connectMany(options): since names ${JSON.stringify(modelId)}, which is not in models`);
    if (typeof id !== 'string' || id === '') throw new TypeError(`connectMany(options): since[${JSON.stringify(modelId)}] must be a non-empty event id`);
    out[model] = id;
  }
  return out;
}
