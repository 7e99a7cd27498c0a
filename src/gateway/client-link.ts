/**
 * The one contract between the two sides of a customer connection:
 *
 *   client side                                   upstream side (a ClientLink)
 *   ClientConnection: the customer's socket,  ──▶  RelayLink: its own OnlyFans socket (relay mode)
 *   admission, limits, key expiry, rate      ──▶  SessionLink: attached to the model's shared
 *                                                  session and its event log (session mode)
 *
 * The connection admits the client and then asks the gateway for a link; the link opens
 * whatever the upstream side is and calls {@link LinkHost.open} with the confirmation. After
 * that, every accepted client message goes to the link, and the link writes to the client
 * through the host. Either side may end the connection; the connection finishes when the
 * client's socket and the link are both closed.
 */
import type { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Leg } from '../wire/leg.js';
import type { Admission } from './admission.js';
import type { DeliveryQuery } from './delivery-query.js';

/** What the client side offers its link. */
export interface LinkHost {
  readonly id: string;
  readonly client: Leg;
  /** Set before the link is created. */
  readonly admission: Admission | null;
  readonly query: DeliveryQuery;
  readonly logger: Logger;
  /** Sends the confirmation (the first frame) and releases the messages held until then. */
  open(confirmation: string): void;
  /** Ends the connection with a catalog error: error frame, close code (the link is closed too). */
  fail(error: GatewayError): void;
  /** Closes the client with a plain close code (1014 when the upstream failed, 1011…). */
  close(code: number, reason: Buffer | string, outcome: string): void;
  /** Counts a message delivered to the client. */
  delivered(bytes: number): void;
  /** The link has nothing open any more. */
  linkClosed(): void;
}

/** The upstream side of one connection. */
export interface ClientLink {
  /** Opens the upstream side; calls host.open() or host.fail(). */
  start(): void;
  /**
   * An accepted client message (after the confirmation, or held until it): raw frames as they
   * arrived (relay links), or the payload when it was readable (links that parse client frames:
   * text, or an unfragmented binary message).
   */
  fromClient(frames: Buffer, payload: Buffer | undefined, binary: boolean): void;
  /** True when the link wants payloads rather than raw frames (it parses what clients send). */
  readonly parsesClientFrames: boolean;
  /** The client's buffer drained below the low-water mark. */
  clientDrained(): void;
  /** The client is closing with `code` (already translated for the upstream side). */
  clientClosing(code: number, reason: Buffer | string): void;
  /** The connection is ending: close the upstream side with `code` (best effort). */
  close(code: number, reason: Buffer | string): void;
  /** Heartbeat round for the upstream side (a relay's own socket); sessions keep their own. */
  heartbeat(): void;
  /** Last resort: destroy whatever is open. */
  destroy(): void;
  /** For logs: the upstream close code seen, if any. */
  readonly upstreamCloseCode: number | undefined;
  /** The relay's own upstream leg (relay mode only), for tests and the heartbeat. */
  readonly upstream: Leg | null;
  /** True while the link stopped reading its upstream because the client is backed up. */
  readonly upstreamPaused: boolean;
}
