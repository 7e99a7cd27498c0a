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
export {
  GENERATED_KEYS,
  chatMessage,
  chatMessageDelete,
  counters,
  notificationCount,
  postPublished,
  randomEvent,
  randomFan,
  stream,
  streamStart,
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
