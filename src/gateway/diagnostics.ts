/**
 * Relay lifecycle on named `node:diagnostics_channel` channels (the undici pattern): metrics,
 * tracing or tests subscribe; with no subscriber, publishing costs one boolean check.
 */
import diagnostics from 'node:diagnostics_channel';
import type { ClientConnection } from './client-connection.js';

/** Published once a relay is confirmed (both legs open), while in its gateway's registry. Message: {@link ClientConnection}. */
export const relayOpened = diagnostics.channel('ofgw:relay:opened');
/**
 * Published once both legs of a relay are closed, whatever the outcome, just before it leaves
 * its gateway's registry (`gateway.registry.all.has(pair)` tells whose it is). Message:
 * {@link ClientConnection}.
 */
export const relayFinished = diagnostics.channel('ofgw:relay:finished');

export type RelayChannelMessage = ClientConnection;
