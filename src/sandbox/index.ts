/**
 * The OnlyFans WebSocket simulator: for gateway tests, `ofgw sandbox`, and benchmarks.
 */
export {
  startSimulator,
  type HandshakeRecord,
  type OnlyFansSimulator,
  type ReceivedFrame,
  type SimulatorFault,
  type SimulatorOptions,
} from './simulator.js';
export { MAX_STREAM_PER_SECOND, type StreamOptions, type StreamStatus } from './streams.js';
export type { ConnectionCounts } from './peaks.js';
export {
  GENERATED_KEYS,
  chatMessage,
  chatMessageDelete,
  counters,
  notificationCount,
  numberedChatMessage,
  postPublished,
  randomEvent,
  randomFan,
  stream,
  streamStart,
  streamSequence,
  streamStop,
  streamTips,
  subscriptionBurst,
  tipMessage,
  typing,
  type EventContext,
  type EventKind,
  type GeneratedEvent,
  type OfFrame,
  type OfUser,
} from './events.js';
export { mulberry32, type Rng } from './rng.js';
