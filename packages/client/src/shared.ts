/**
 * What both entries (browser and Node) export besides `connect`: the client type, errors,
 * the reconnection policy, the OnlyFans event types and webhook signature verification.
 */
export { OfgwClient, type ClientEvents, type ClientListeners, type ClientOptions, type ClientState, type CloseInfo, type ReconnectingInfo, type RelayedMessage } from './client.js';
export { OfgwMultiClient, type ManyOptions } from './multi.js';
export type { ClientFormat, Confirmation, EnvelopeEvent, GapInfo, UpstreamState, UpstreamStatus } from './envelope.js';
export {
  GATEWAY_ERRORS,
  isGatewayErrorCode,
  keepsConnection,
  OfgwError,
  type ClientErrorCode,
  type GatewayErrorCode,
  type OfgwErrorCode,
  type OfgwErrorDetails,
} from './errors.js';
export { Backoff, decideReconnect, isRetryable, resolveReconnectOptions, type ReconnectDecision, type ReconnectOptions } from './reconnect.js';
export * from './onlyfans-events.js';
export type { RelaySocket, SocketFactory, SocketHandlers } from './socket.js';
export {
  signWebhook,
  verifyWebhook,
  WebhookVerificationError,
  type SignWebhookOptions,
  type VerifiedWebhook,
  type VerifyWebhookOptions,
  type WebhookHeaders,
  type WebhookPayload,
  type WebhookSecrets,
  type WebhookSignatureHeaders,
  type WebhookVerificationCode,
} from './webhooks.js';
