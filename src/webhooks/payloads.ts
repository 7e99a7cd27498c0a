/**
 * Webhook bodies (sessions-contract.md §6): `{"type", "timestamp", "data"}`. Pure functions,
 * shared by the store (lifecycle events are enqueued in the transaction that records them)
 * and the session intake.
 */
import { firstKeyOf } from '../delivery/envelope.js';

/** The contract's lifecycle types, by the store's model event kind they come from. */
export const LIFECYCLE_TYPES = {
  connected: 'model.connected',
  disconnected: 'model.disconnected',
  credentials_rejected: 'model.credentials_rejected',
  credentials_refreshed: 'model.credentials_refreshed',
  'session.upstream_down': 'session.upstream_down',
  'session.upstream_restored': 'session.upstream_restored',
} as const satisfies Record<string, string>;

export type LifecycleType = (typeof LIFECYCLE_TYPES)[keyof typeof LIFECYCLE_TYPES];

/** The test delivery's type (`ofgw webhook test`): sent whatever the endpoint's filters. */
export const TEST_TYPE = 'webhook.test';

/** The webhook type of a model event kind, or undefined for kinds no webhook carries. */
export function lifecycleType(kind: string): LifecycleType | undefined {
  return Object.hasOwn(LIFECYCLE_TYPES, kind) ? LIFECYCLE_TYPES[kind as keyof typeof LIFECYCLE_TYPES] : undefined;
}

/** A lifecycle event's body: `data` holds the model and the recorded reason. */
export function lifecycleBody(type: string, modelId: string, reason: string | null, at: string): string {
  return JSON.stringify({ type, timestamp: at, data: { modelId, reason } });
}

/**
 * An OnlyFans event's type and body, or undefined for a frame that is not a JSON object with
 * a first key (binary or malformed frames have no event type to filter or name them by).
 * The frame's own text is embedded as it arrived: no re-encoding.
 */
export function eventBody(modelId: string, eventId: string, ts: number, frame: Buffer, binary: boolean): { type: string; body: string } | undefined {
  if (binary) return undefined;
  const text = frame.toString('utf8');
  const key = firstKeyOf(text);
  if (key === undefined || key === '') return undefined;
  const type = `onlyfans.${key}`;
  const timestamp = new Date(ts).toISOString();
  return {
    type,
    body: `{"type":${JSON.stringify(type)},"timestamp":"${timestamp}","data":{"modelId":${JSON.stringify(modelId)},"eventId":"${eventId}","frame":${text}}}`,
  };
}

/** The test delivery's body. */
export function testBody(endpointId: string, at: string): string {
  return JSON.stringify({ type: TEST_TYPE, timestamp: at, data: { endpointId, message: 'A test delivery from ofgw' } });
}

/**
 * Whether an endpoint's event filter takes `type`: null takes every type; entries are exact
 * types, `prefix.*` for a family, or `*`.
 */
export function typeMatches(filter: readonly string[] | null, type: string): boolean {
  if (filter === null) return true;
  return filter.some((f) => f === '*' || f === type || (f.endsWith('.*') && type.startsWith(f.slice(0, -1))));
}
