import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  GENERATED_KEYS,
  chatMessage,
  counters,
  mulberry32,
  randomEvent,
  streamTips,
  subscriptionBurst,
  tipMessage,
  type EventContext,
  type EventKind,
} from '../../src/sandbox/index.js';

const CTX: EventContext = { creatorId: 15585607, now: Date.UTC(2026, 3, 23, 14, 30, 14) };

test('mulberry32 is deterministic per seed and stays in [0, 1)', () => {
  const a = mulberry32(7);
  const b = mulberry32(7);
  const c = mulberry32(8);
  const seqA = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(seqA, Array.from({ length: 1000 }, () => b()));
  assert.notDeepEqual(seqA.slice(0, 10), Array.from({ length: 10 }, () => c()));
  assert.ok(seqA.every((x) => x >= 0 && x < 1));
});

test('randomEvent is reproducible with a seed and a fixed clock', () => {
  const run = (seed: number): string => {
    const rng = mulberry32(seed);
    return JSON.stringify(Array.from({ length: 200 }, () => randomEvent(rng, CTX)));
  };
  assert.equal(run(1), run(1));
  assert.notEqual(run(1), run(2));
});

test('every generated frame is a JSON object with known top-level keys, and typing and counters dominate', () => {
  const rng = mulberry32(123);
  const tally = new Map<EventKind, number>();
  for (let i = 0; i < 5000; i++) {
    const event = randomEvent(rng, CTX);
    tally.set(event.kind, (tally.get(event.kind) ?? 0) + 1);
    for (const frame of event.frames) {
      const parsed: unknown = JSON.parse(JSON.stringify(frame));
      assert.ok(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed));
      for (const key of Object.keys(parsed)) assert.ok(GENERATED_KEYS.has(key), `${event.kind}: ${key}`);
    }
  }
  assert.equal(tally.size, 11, 'every kind occurs');
  const sorted = [...tally.entries()].sort((x, y) => y[1] - x[1]).map(([kind]) => kind);
  assert.deepEqual(sorted.slice(0, 2), ['typing', 'counters']);
});

test('a subscription is a three-frame burst: subscribed, new_message + hasSystemNotifications, toasts', () => {
  const burst = subscriptionBurst(mulberry32(5), CTX);
  assert.equal(burst.length, 3);
  assert.deepEqual(burst.map((frame) => Object.keys(frame)), [
    ['subscribed'],
    ['new_message', 'hasSystemNotifications'],
    ['toasts'],
  ]);
  const [subscribed, notification, toasts] = burst as [
    { subscribed: { user: { id: number }; timestamp: number } },
    { new_message: { user_id: string; subType: string; createdAt: string } },
    { toasts: Array<{ type: string; data: { code: string; relatedUser: { id: number } } }> },
  ];
  const fanId = subscribed.subscribed.user.id;
  assert.equal(subscribed.subscribed.timestamp, CTX.now / 1000);
  assert.equal(notification.new_message.user_id, String(fanId));
  assert.equal(notification.new_message.subType, 'new_subscriber');
  assert.equal(notification.new_message.createdAt, '2026-04-23T14:30:15+00:00');
  assert.equal(toasts.toasts[0]?.type, 'subscribed');
  assert.equal(toasts.toasts[0]?.data.relatedUser.id, fanId);
});

test('chat messages carry HTML text and OF timestamps; tips carry isTip, tipAmount and tipText', () => {
  const rng = mulberry32(9);
  const plain = chatMessage(rng, CTX).api2_chat_message as Record<string, unknown>;
  assert.match(String(plain.text), /^<p>.*<\/p>$/s);
  assert.equal(plain.createdAt, '2026-04-23T14:30:14+00:00');
  assert.equal(plain.isTip, false);
  assert.ok(Number.isSafeInteger(plain.id) && String(plain.id).length === 13);
  assert.ok(typeof (plain.fromUser as { id: unknown }).id === 'number');

  const tip = tipMessage(rng, CTX).api2_chat_message as Record<string, unknown>;
  assert.equal(tip.isTip, true);
  assert.equal(tip.price, 0);
  assert.ok(typeof tip.tipAmount === 'number' && tip.tipAmount > 0);
  assert.equal(typeof tip.tipText, 'string');
});

test('stream tips are a multi-key frame and counters have the three counter keys', () => {
  const rng = mulberry32(3);
  assert.deepEqual(Object.keys(streamTips(rng, CTX, 1234)), ['stream_tips', 'is_show_tips', 'tips_count', 'tips_summ']);
  assert.deepEqual(Object.keys(counters(rng)), ['chat_messages', 'count_priority_chat', 'unread_tips']);
});
