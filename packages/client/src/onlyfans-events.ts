/**
 * Types for the OnlyFans frames a relay carries (shared/reference/onlyfans-ws-protocol.md §6).
 * A frame is one JSON object whose top-level keys are the event types; one frame may carry
 * several. OnlyFans documents none of this, so every payload type is open (`[key: string]:
 * unknown`) and lists only the fields public clients rely on; unknown keys pass through
 * untouched.
 */

/** A user as OnlyFans embeds one in events; sometimes only `{ id }`. */
export interface OfUser {
  id: number;
  name?: string;
  username?: string;
  avatar?: string | null;
  [key: string]: unknown;
}

/** `api2_chat_message`: a direct message, a tip (`isTip`, `tipAmount` in dollars) or an outbound echo (`toUser`). */
export interface ChatMessageEvent {
  id: number;
  text?: string;
  price?: number;
  isFree?: boolean;
  isTip?: boolean;
  tipAmount?: number;
  tipText?: string;
  mediaCount?: number;
  media?: unknown[];
  createdAt?: string;
  fromUser?: OfUser;
  toUser?: OfUser;
  [key: string]: unknown;
}

/** `typing`: the fan with this id is typing in the creator's chat. */
export interface TypingEvent {
  id: number;
  [key: string]: unknown;
}

/** `subscribed`: a new subscriber (arrives with `new_message` and `toasts` frames about a second apart). */
export interface SubscribedEvent {
  user: OfUser;
  /** Unix seconds. */
  timestamp?: number;
  [key: string]: unknown;
}

/** `new_message`: a system notification (`subType` e.g. `new_subscriber`, `new_stream`). */
export interface NewMessageEvent {
  id?: string;
  type?: string;
  subType?: string;
  text?: string;
  user_id?: string;
  user?: OfUser;
  [key: string]: unknown;
}

/** One item of `toasts`. */
export interface Toast {
  id?: number;
  title?: string;
  text?: string;
  type?: string;
  data?: Record<string, unknown>;
  [key: string]: unknown;
}

/** `post_published`: ids are strings. */
export interface PostPublishedEvent {
  id: string;
  user_id?: string;
  show_posts_in_feed?: boolean;
  [key: string]: unknown;
}

/** `stream`: a live stream's details. */
export interface StreamEvent {
  id: number | string;
  title?: string;
  description?: string;
  startedAt?: string;
  room?: string;
  user?: OfUser;
  [key: string]: unknown;
}

/** `stream_start`. */
export interface StreamStartEvent {
  stream_id: string;
  userId?: number;
  [key: string]: unknown;
}

/** `stream_stop`. */
export interface StreamStopEvent {
  stream_id: string;
  stream_user_id?: string;
  [key: string]: unknown;
}

/** `stream_tips` (the frame also carries `is_show_tips`, `tips_count`, `tips_summ`). */
export interface StreamTipsEvent {
  id?: number;
  from_user?: OfUser;
  stream_user_id?: number | string;
  stream_id?: number | string;
  amount?: number;
  amount_human?: string;
  message?: string | null;
  [key: string]: unknown;
}

/** Every OnlyFans event key this SDK knows, with its payload type. */
export interface OnlyFansEvents {
  api2_chat_message: ChatMessageEvent;
  typing: TypingEvent;
  /** Unread chats; the frame also carries `count_priority_chat` and `unread_tips`. */
  chat_messages: number;
  count_priority_chat: number;
  unread_tips: number;
  /** Notification count; the frame also carries `hasSystemNotifications`. */
  messages: number;
  hasSystemNotifications: boolean;
  new_message: NewMessageEvent;
  /** The deleted message's id, as a string. */
  chat_message_delete: string;
  subscribed: SubscribedEvent;
  toasts: Toast[];
  post_published: PostPublishedEvent;
  /** The post id, as a string. */
  post_updated: string;
  post_expire: string;
  stories: Record<string, unknown>[];
  stream: StreamEvent;
  stream_start: StreamStartEvent;
  stream_stop: StreamStopEvent;
  stream_update: Record<string, unknown>;
  stream_tips: StreamTipsEvent;
  is_show_tips: boolean;
  tips_count: number;
  tips_summ: number;
  stream_comment: Record<string, unknown>;
  stream_look: Record<string, unknown>;
  stream_unlook: Record<string, unknown>;
  stream_likes: Record<string, unknown>;
  /** The reply to `get_onlines` (ids as OnlyFans sends them: numbers, or strings). */
  online: Array<number | string>;
}

export type OnlyFansEventKey = keyof OnlyFansEvents;

/** A relayed OnlyFans frame: the known keys typed, any other key present as it came. */
export type OnlyFansFrame = { [K in OnlyFansEventKey]?: OnlyFansEvents[K] } & Record<string, unknown>;

/** The known keys, for code that wants to tell known from unknown. */
export const KNOWN_EVENT_KEYS: ReadonlySet<string> = new Set<OnlyFansEventKey>([
  'api2_chat_message', 'typing', 'chat_messages', 'count_priority_chat', 'unread_tips', 'messages',
  'hasSystemNotifications', 'new_message', 'chat_message_delete', 'subscribed', 'toasts',
  'post_published', 'post_updated', 'post_expire', 'stories', 'stream', 'stream_start', 'stream_stop',
  'stream_update', 'stream_tips', 'is_show_tips', 'tips_count', 'tips_summ', 'stream_comment',
  'stream_look', 'stream_unlook', 'stream_likes', 'online',
]);

/**
 * Whether the frame carries `key`, narrowing its type.
 *
 * @example
 * if (hasEvent(frame, 'api2_chat_message')) console.log(frame.api2_chat_message.fromUser?.id)
 */
export function hasEvent<K extends OnlyFansEventKey>(
  frame: OnlyFansFrame,
  key: K,
): frame is OnlyFansFrame & { [P in K]: OnlyFansEvents[K] } {
  return Object.prototype.hasOwnProperty.call(frame, key);
}

/** The frame's event keys, in the order they came (known and unknown alike). */
export function eventKeys(frame: OnlyFansFrame): string[] {
  return Object.keys(frame);
}

/** A JSON value that is a frame (an object, not an array or null). */
export function asFrame(value: unknown): OnlyFansFrame | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as OnlyFansFrame) : undefined;
}
