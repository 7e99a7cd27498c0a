/**
 * Realistic OnlyFans server→client frames, shaped after the catalogue in
 * onlyfans-ws-protocol.md §6.3 (GM fixtures, DOV capture, V-OFAUTH raw text). Every builder
 * draws only from the given RNG and context, so a seeded RNG and a fixed `now` reproduce the
 * exact same frames.
 */
import { chance, intBetween, pick, type Rng } from './rng.js';

/** One server→client frame: a JSON object whose top-level keys are the event types (§6.1). */
export type OfFrame = Record<string, unknown>;

/** A user as OF embeds one in events (fans and creators alike). */
export interface OfUser {
  id: number;
  name: string;
  username: string;
  avatar: string | null;
}

/** What a frame is about: the creator whose socket receives it, and the clock to stamp it with. */
export interface EventContext {
  /** The creator ("model") owning the socket; appears in post and stream events. */
  creatorId: number;
  /** Unix milliseconds used for every timestamp; fix it for reproducible output. */
  now: number;
}

/** Kinds {@link randomEvent} can produce. */
export type EventKind =
  | 'typing'
  | 'counters'
  | 'chat_message'
  | 'tip'
  | 'messages'
  | 'chat_message_delete'
  | 'subscription'
  | 'post_published'
  | 'stream_start'
  | 'stream_tips'
  | 'stream_stop';

/**
 * One logical event. Most are a single frame; a new subscription is three (§6.3 #8) and a
 * stream start two, which a generator should space about a second apart.
 */
export interface GeneratedEvent {
  kind: EventKind;
  frames: OfFrame[];
}

/** Every top-level key a generated frame can carry, for consumers that check what they got. */
export const GENERATED_KEYS: ReadonlySet<string> = new Set([
  'typing',
  'chat_messages',
  'count_priority_chat',
  'unread_tips',
  'api2_chat_message',
  'messages',
  'hasSystemNotifications',
  'chat_message_delete',
  'subscribed',
  'new_message',
  'toasts',
  'post_published',
  'stream_start',
  'stream',
  'stream_tips',
  'is_show_tips',
  'tips_count',
  'tips_summ',
  'stream_stop',
]);

const FIRST_NAMES = [
  'Mike', 'Chris', 'Jake', 'Daniel', 'Ryan', 'Alex', 'Tom', 'Marco', 'Luis', 'Kevin',
  'Sam', 'Josh', 'Ben', 'Nick', 'Omar', 'Lukas', 'Pierre', 'Hiro', 'Matt', 'Andre',
] as const;
const HANDLE_WORDS = [
  'night', 'wolf', 'lucky', 'blue', 'king', 'rider', 'ghost', 'sunny', 'max', 'storm',
] as const;
const DM_TEXTS = [
  '<p>hey 😘</p>',
  '<p>good morning beautiful ☀️</p>',
  '<p>that last post 🔥🔥</p>',
  '<p>when is the next live?</p>',
  '<p>can I get a custom video?</p>',
  '<p>miss you</p>',
  '<p>haha you are so funny<br />what are you up to tonight?</p>',
  '<p>rock &amp; roll 🤘</p>',
  '<p>did you see my tip?</p>',
  '<p>Just subscribed, <strong>love</strong> your page</p>',
] as const;
const TIP_NOTES = ['', 'for you ❤️', 'buy yourself something nice', 'great stream!', 'thank you'] as const;
const TIP_AMOUNTS = [5, 5, 10, 10, 10, 20, 25, 50, 100] as const;
const STREAM_TITLES = ['Chill evening live', 'Q&A time', 'Sunday stream', 'Workout with me'] as const;
const STREAM_TEXT_PREFIX = 'stream #';
const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A random fan: OF's default `u<id>` username for most, a chosen handle for some, rarely an avatar. */
export function randomFan(rng: Rng): OfUser {
  const id = intBetween(rng, 100_000_000, 599_999_999);
  const first = pick(rng, FIRST_NAMES);
  const name = chance(rng, 0.5) ? first : `${first} ${String.fromCharCode(65 + intBetween(rng, 0, 25))}.`;
  const username = chance(rng, 0.6)
    ? `u${id}`
    : `${pick(rng, HANDLE_WORDS)}${first.toLowerCase()}${intBetween(rng, 1, 99)}`;
  return { id, name, username, avatar: chance(rng, 0.3) ? avatarUrl(rng) : null };
}

/** `{"typing":{"id":<fan>}}`: the fan is typing in the creator's chat (§6.3 #24). */
export function typing(rng: Rng, fan: OfUser = randomFan(rng)): OfFrame {
  return { typing: { id: fan.id } };
}

/** Unread counters (§6.3 #5), the other dominant idle frame. */
export function counters(rng: Rng): OfFrame {
  const chats = intBetween(rng, 0, 60);
  return {
    chat_messages: chats,
    count_priority_chat: intBetween(rng, 0, Math.min(chats, 10)),
    unread_tips: intBetween(rng, 0, 3),
  };
}

/** A fan's DM to the creator (§6.3 #4); `fromUser` is either the full user or only `{id}` (#4c). */
export function chatMessage(rng: Rng, ctx: EventContext, fan: OfUser = randomFan(rng)): OfFrame {
  return { api2_chat_message: messageBody(rng, ctx, fan, pick(rng, DM_TEXTS)) };
}

/** A tip sent through chat (§6.3 #4a): `isTip`, `price` 0, dollars in `tipAmount`, note in `tipText`. */
export function tipMessage(rng: Rng, ctx: EventContext, fan: OfUser = randomFan(rng)): OfFrame {
  const note = pick(rng, TIP_NOTES);
  const body = messageBody(rng, ctx, fan, note === '' ? '' : `<p>${note}</p>`);
  body.isTip = true;
  body.tipAmount = pick(rng, TIP_AMOUNTS);
  body.tipText = note;
  return { api2_chat_message: body };
}

/**
 * A DM whose text is `stream #<seq>`, for numbered streams: consumers read the number back with
 * {@link streamSequence}. `id` is the caller's, so ids stay unique however many streams run.
 */
export function numberedChatMessage(rng: Rng, ctx: EventContext, seq: number, id: number): OfFrame {
  const body = messageBody(rng, ctx, randomFan(rng), `${STREAM_TEXT_PREFIX}${seq}`);
  body.id = id;
  return { api2_chat_message: body };
}

/** The number a {@link numberedChatMessage} frame carries (parsed JSON or its text), else undefined. */
export function streamSequence(frame: unknown): number | undefined {
  const parsed = typeof frame === 'string' || Buffer.isBuffer(frame) ? parseFrame(frame.toString()) : frame;
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const message = (parsed as Record<string, unknown>).api2_chat_message;
  if (typeof message !== 'object' || message === null) return undefined;
  const text = (message as Record<string, unknown>).text;
  if (typeof text !== 'string' || !text.startsWith(STREAM_TEXT_PREFIX)) return undefined;
  const seq = Number(text.slice(STREAM_TEXT_PREFIX.length));
  return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}

/** Notification count (§6.3 #7). */
export function notificationCount(rng: Rng): OfFrame {
  return { messages: intBetween(rng, 1, 5), hasSystemNotifications: false };
}

/** A message the fan unsent (§6.3 #25): the id travels as a string. */
export function chatMessageDelete(rng: Rng): OfFrame {
  return { chat_message_delete: String(messageId(rng)) };
}

/**
 * The three frames one new subscription produces (§6.3 #8): `subscribed`, then
 * `new_message` + `hasSystemNotifications`, then `toasts`; timestamps drift by about a second.
 */
export function subscriptionBurst(
  rng: Rng,
  ctx: EventContext,
  fan: OfUser = randomFan(rng),
): [OfFrame, OfFrame, OfFrame] {
  const subscribed = {
    subscribed: {
      user: { id: fan.id, username: fan.username, name: fan.name, avatar: fan.avatar },
      timestamp: Math.floor(ctx.now / 1000),
    },
  };
  const notification = {
    new_message: {
      id: String(intBetween(rng, 1_000_000_000, 9_999_999_999)),
      // UNK-L keys subscriptions on `type`, GM (since 2025-11) on `subType`: carry both.
      type: 'subscribed',
      subType: 'new_subscriber',
      text: `<a href="https://onlyfans.com/${fan.username}">${fan.name}</a> subscribed to your profile!`,
      user_id: String(fan.id),
      isRead: false,
      canGoToProfile: true,
      newPrice: null,
      createdAt: isoSeconds(ctx.now + 1000),
      user: { id: fan.id, name: fan.name, username: fan.username, avatar: fan.avatar },
    },
    hasSystemNotifications: false,
  };
  const toast = {
    toasts: [
      {
        id: intBetween(rng, 1_000_000, 99_999_999),
        title: 'New subscriber',
        text: `${fan.name} subscribed to you`,
        type: 'subscribed',
        data: {
          code: 'new_subscriber',
          template: '{USER_NAME} subscribed to you',
          replacements: { '{USER_NAME}': fan.name },
          relatedUser: {
            id: fan.id,
            name: fan.name,
            username: fan.username,
            avatarThumbs: fan.avatar === null ? null : { c50: fan.avatar, c144: fan.avatar },
          },
        },
      },
    ],
  };
  return [subscribed, notification, toast];
}

/** The creator published a post (§6.3 #10); ids are strings there. */
export function postPublished(rng: Rng, ctx: EventContext): OfFrame {
  return {
    post_published: {
      id: String(intBetween(rng, 400_000_000, 999_999_999)),
      user_id: String(ctx.creatorId),
      show_posts_in_feed: true,
    },
  };
}

/** A live stream began (§6.3 #17). */
export function streamStart(ctx: EventContext, streamId: number): OfFrame {
  return { stream_start: { stream_id: String(streamId), userId: ctx.creatorId } };
}

/** The stream object that accompanies a start (§6.3 #16). */
export function stream(rng: Rng, ctx: EventContext, streamId: number): OfFrame {
  return {
    stream: {
      id: streamId,
      title: pick(rng, STREAM_TITLES),
      description: '',
      startedAt: isoSeconds(ctx.now),
      room: `dc2-room-${randomToken(rng, 12)}`,
      thumbUrl: null,
      user: creator(ctx),
    },
  };
}

/** A live stream ended (§6.3 #18); both ids are strings there. */
export function streamStop(ctx: EventContext, streamId: number): OfFrame {
  return { stream_stop: { stream_id: String(streamId), stream_user_id: String(ctx.creatorId) } };
}

/** A tip during a stream, with its running totals as sibling keys (§6.3 #23, a multi-key frame). */
export function streamTips(rng: Rng, ctx: EventContext, streamId: number = streamIdOf(rng)): OfFrame {
  const fan = randomFan(rng);
  const amount = pick(rng, TIP_AMOUNTS);
  const tipsCount = intBetween(rng, 1, 40);
  return {
    stream_tips: {
      id: intBetween(rng, 10_000_000, 99_999_999),
      from_user: { id: fan.id, name: fan.name },
      stream_user_id: ctx.creatorId,
      stream_id: streamId,
      amount,
      amount_human: `$${amount.toFixed(2)}`,
      message: chance(rng, 0.5) ? null : pick(rng, TIP_NOTES),
    },
    is_show_tips: true,
    tips_count: tipsCount,
    tips_summ: amount + tipsCount * 5 - 0.5,
  };
}

// Rough shares of real traffic (§6.2: typing and the counters dominate).
const WEIGHTS: ReadonlyArray<readonly [EventKind, number]> = [
  ['typing', 60],
  ['counters', 20],
  ['chat_message', 8],
  ['messages', 2],
  ['tip', 2],
  ['stream_tips', 2],
  ['subscription', 2],
  ['chat_message_delete', 1],
  ['post_published', 1],
  ['stream_start', 1],
  ['stream_stop', 1],
];
const TOTAL_WEIGHT = WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0);

/** One event picked by rough real frequency. */
export function randomEvent(rng: Rng, ctx: EventContext): GeneratedEvent {
  let roll = rng() * TOTAL_WEIGHT;
  let kind: EventKind = 'typing';
  for (const [candidate, weight] of WEIGHTS) {
    roll -= weight;
    if (roll < 0) {
      kind = candidate;
      break;
    }
  }
  return { kind, frames: framesFor(kind, rng, ctx) };
}

function framesFor(kind: EventKind, rng: Rng, ctx: EventContext): OfFrame[] {
  switch (kind) {
    case 'typing':
      return [typing(rng)];
    case 'counters':
      return [counters(rng)];
    case 'chat_message':
      return [chatMessage(rng, ctx)];
    case 'tip':
      return [tipMessage(rng, ctx)];
    case 'messages':
      return [notificationCount(rng)];
    case 'chat_message_delete':
      return [chatMessageDelete(rng)];
    case 'subscription':
      return subscriptionBurst(rng, ctx);
    case 'post_published':
      return [postPublished(rng, ctx)];
    case 'stream_start': {
      const id = streamIdOf(rng);
      return [streamStart(ctx, id), stream(rng, ctx, id)];
    }
    case 'stream_tips':
      return [streamTips(rng, ctx)];
    case 'stream_stop':
      return [streamStop(ctx, streamIdOf(rng))];
  }
}

function messageBody(rng: Rng, ctx: EventContext, fan: OfUser, text: string): Record<string, unknown> {
  const createdAt = isoSeconds(ctx.now);
  // IFK: plain DMs usually carry only {id}; DOV's capture shows the full user (§6.3 #4c).
  const fromUser = chance(rng, 0.6)
    ? { id: fan.id }
    : { ...fan, isVerified: false, canEarn: false, lastSeen: createdAt };
  return {
    id: messageId(rng),
    responseType: 'message',
    text,
    giphyId: null,
    lockedText: false,
    isFree: true,
    price: 0,
    isMediaReady: true,
    mediaCount: 0,
    media: [],
    previews: [],
    isTip: false,
    isReportedByMe: false,
    isCouplePeopleMedia: false,
    queueId: null,
    isFromQueue: false,
    fromUser,
    isNew: true,
    isOpened: false,
    createdAt,
    changedAt: createdAt,
    cancelSeconds: 120,
    isPinned: false,
  };
}

function creator(ctx: EventContext): OfUser {
  return { id: ctx.creatorId, name: 'Creator', username: `u${ctx.creatorId}`, avatar: null };
}

/** 13-digit ids like 9372017685098, well inside the safe-integer range. */
function messageId(rng: Rng): number {
  return intBetween(rng, 9_000_000_000, 9_499_999_999) * 1000 + intBetween(rng, 0, 999);
}

function streamIdOf(rng: Rng): number {
  return intBetween(rng, 1_000_000, 9_999_999);
}

/** OF's timestamp style: `2026-04-23T14:30:14+00:00`, whole seconds. */
function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + '+00:00';
}

/** The public CDN path pattern seen in fixtures: files/m/mk/mka/<token><unix>/avatar.jpg. */
function avatarUrl(rng: Rng): string {
  const token = randomToken(rng, 30);
  return `https://public.onlyfans.com/files/${token.slice(0, 1)}/${token.slice(0, 2)}/${token.slice(0, 3)}/${token}${intBetween(rng, 1_500_000_000, 1_750_000_000)}/avatar.jpg`;
}

function randomToken(rng: Rng, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALNUM[intBetween(rng, 0, ALNUM.length - 1)];
  return out;
}

function parseFrame(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
