/**
 * The envelope format of sessions-contract.md §3: every frame the gateway sends is a JSON
 * object with a `type`, and clients send `{"type": "send", "requestId"?, "data": {…}}` (or a
 * raw `{"act": …}`). The codec knows no sockets; the relay and session links use it. The
 * frames' schemas are in ./messages.ts; test/delivery/messages.test.ts checks every frame built
 * here against them.
 */
import type { ErrorCode } from '../errors.js';
import { upstreamStateSchema, type UpstreamState } from './messages.js';

/** The base contract's confirmation (gateway-contract.md §2), the first frame of a raw relay. */
export function rawConfirmationFrame(modelId: string): string {
  return JSON.stringify({ connected: true, modelId });
}

/** An upstream frame as the envelope `event` frame. `id` is absent in relay mode. */
export function eventFrame(modelId: string, id: string | undefined, ts: number, payload: Buffer, binary: boolean): string {
  const head = id === undefined ? `{"type":"event","modelId":${JSON.stringify(modelId)},"ts":${ts}` : `{"type":"event","id":"${id}","modelId":${JSON.stringify(modelId)},"ts":${ts}`;
  if (!binary) {
    const text = payload.toString('utf8');
    const key = firstKeyOf(text);
    // The frame's own text is the `data` value when it is a JSON object: no re-encoding.
    if (key !== undefined) return `${head},"event":${JSON.stringify(key)},"data":${text}}`;
  }
  return `${head},"event":null,"encoding":"base64","data":"${payload.toString('base64')}"}`;
}

/**
 * The first top-level key of a JSON object text (the OnlyFans event type, onlyfans-ws-protocol.md
 * §6.1), or undefined when the text is not a JSON object.
 */
export function firstKeyOf(text: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  for (const key in value) return key;
  return '';
}

export function statusFrame(modelId: string, upstream: UpstreamState, reason?: string): string {
  return JSON.stringify({ type: 'status', modelId, upstream, ...(reason ? { reason } : {}) });
}

/** A status entry's data (`{"upstream", "reason"?}`); unreadable data reads as `down`. */
export function readStatus(data: Buffer): { upstream: UpstreamState; reason?: string } {
  let value: { upstream?: unknown; reason?: unknown };
  try {
    value = JSON.parse(data.toString('utf8')) as { upstream?: unknown; reason?: unknown };
  } catch {
    // An unreadable status counts as down: the state that promises nothing.
    return { upstream: 'down' };
  }
  const upstream = upstreamStateSchema.safeParse(value.upstream);
  return { upstream: upstream.success ? upstream.data : 'down', ...(typeof value.reason === 'string' ? { reason: value.reason } : {}) };
}

export function gapFrame(modelId: string, after: string | null, before: string | null): string {
  return JSON.stringify({ type: 'gap', modelId, after, before });
}

/** The answer to a client's own request: the upstream's reply as `data`, or an error. */
export function replyFrame(requestId: string | undefined, reply: { text: string } | { code: ErrorCode; error: string }): string {
  const rid = requestId === undefined ? '' : `"requestId":${JSON.stringify(requestId)},`;
  if ('text' in reply) return `{"type":"reply",${rid}"data":${reply.text}}`;
  return `{"type":"reply",${rid}"error":${JSON.stringify(reply.error)},"code":${JSON.stringify(reply.code)}}`;
}

export interface EnvelopeConfirmation {
  modelId: string;
  lastEventId?: string | null;
  resumed?: boolean;
}

export function confirmationFrame(c: EnvelopeConfirmation): string {
  return JSON.stringify({ connected: true, modelId: c.modelId, format: 'envelope', ...('lastEventId' in c ? { lastEventId: c.lastEventId, resumed: c.resumed } : {}) });
}

/** What a client asked to send up, read from its frame. */
export type ClientAct =
  | { ok: true; text: string; act: string; requestId: string | undefined }
  | { ok: false; error: string; requestId: string | undefined };

const MAX_REQUEST_ID = 128;

/**
 * Reads a client frame: `{"type":"send","requestId"?,"data":{…}}` or a raw `{"act":…}` object.
 * `data` goes up as JSON text; anything else is refused with the reason.
 */
export function readClientAct(payload: Buffer | undefined, binary: boolean): ClientAct {
  if (binary || payload === undefined) return { ok: false, error: 'only JSON text frames may be sent up a shared socket', requestId: undefined };
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, error: 'the frame is not JSON', requestId: undefined };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: 'the frame is not a JSON object', requestId: undefined };
  const frame = value as Record<string, unknown>;
  let requestId: string | undefined;
  let act: Record<string, unknown> = frame;
  let text: string | undefined;
  if (frame.type !== undefined) {
    if (typeof frame.requestId === 'string' && frame.requestId.length <= MAX_REQUEST_ID) requestId = frame.requestId;
    else if (frame.requestId !== undefined) return { ok: false, error: `requestId must be a string of at most ${MAX_REQUEST_ID} characters`, requestId: undefined };
    if (frame.type !== 'send') return { ok: false, error: 'type must be "send"', requestId };
    const data = frame.data;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: false, error: 'data must be a JSON object (an OnlyFans act)', requestId };
    act = data as Record<string, unknown>;
    text = JSON.stringify(act);
  }
  if (typeof act.act !== 'string') return { ok: false, error: 'the frame has no act', requestId };
  return { ok: true, text: text ?? payload.toString('utf8'), act: act.act, requestId };
}

export interface MultiConfirmation {
  /** The models admitted, in the order asked. */
  models: readonly string[];
  /** Each model's newest logged id when it attached (null: its log is empty). */
  lastEventIds: Readonly<Record<string, string | null>>;
  /** Per model: true when its `since` was given and nothing after it was lost. */
  resumed: Readonly<Record<string, boolean>>;
}

/** A multi-model socket's confirmation (contract §4). */
export function multiConfirmationFrame(c: MultiConfirmation): string {
  return JSON.stringify({ connected: true, format: 'envelope', models: c.models, lastEventIds: c.lastEventIds, resumed: c.resumed });
}

/**
 * One model refused by, or leaving, a multi-model socket (contract §4); the socket stays open
 * for its other models. `code` is the catalog code a single-model socket would have closed with.
 */
export function modelErrorFrame(modelId: string, error: { code: string; message: string }): string {
  return JSON.stringify({ type: 'error', modelId, code: error.code, error: error.message });
}
