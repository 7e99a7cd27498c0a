/**
 * Connection lifecycle on named `node:diagnostics_channel` channels (the undici pattern):
 * metrics, tracing or tests subscribe; with no subscriber, publishing costs one boolean check.
 * The message shapes are declared here, not in the gateway, so subscribers (observability)
 * depend on this file only.
 */
import diagnostics from 'node:diagnostics_channel';

/** Message counters of one connection, both ways. */
export interface RelayTraffic {
  messagesToUpstream: number;
  bytesToUpstream: number;
  messagesToClient: number;
  bytesToClient: number;
}

/** What a channel message tells about a customer connection (a relay or a session client). */
export interface ObservedConnection {
  readonly startedAt: number;
  readonly openedAt: number | undefined;
  readonly upstreamStartedAt: number | undefined;
  readonly isOpen: boolean;
  readonly traffic: RelayTraffic;
  readonly outcome: string;
  readonly clientCloseCode: number | undefined;
}

/** Published once a connection is confirmed, while in its gateway's registry. Message: {@link ObservedConnection}. */
export const relayOpened = diagnostics.channel('ofgw:relay:opened');
/**
 * Published once a connection is closed on both sides, whatever the outcome, just before it
 * leaves its gateway's registry (`gateway.registry.all.has(conn)` tells whose it is). Message:
 * {@link ObservedConnection}.
 */
export const relayFinished = diagnostics.channel('ofgw:relay:finished');

/** How one webhook delivery attempt ended. */
export type WebhookAttemptResult = 'delivered' | 'retrying' | 'failed';

/** What {@link webhookAttempted} carries: the result only, never the endpoint, URL or secret. */
export interface ObservedWebhookAttempt {
  readonly result: WebhookAttemptResult;
}

/**
 * Published once per webhook delivery attempt, when it has ended: `delivered` (a 2xx),
 * `retrying` (failed, another attempt is scheduled), `failed` (the last attempt failed, or the
 * endpoint was disabled). The dashboard's overview counts these; nothing publishes them until
 * webhook delivery exists. Message: {@link ObservedWebhookAttempt}.
 */
export const webhookAttempted = diagnostics.channel('ofgw:webhook:attempted');
