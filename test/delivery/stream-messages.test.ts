/**
 * The server-sent events and webhook bodies the gateway writes match the schemas the AsyncAPI
 * document is built from (src/delivery/messages.ts), so the document cannot drift from them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as m from '../../src/delivery/messages.js';
import { sseEnd, sseEntry, sseGap, sseReady } from '../../src/delivery/sse-frames.js';
import { GatewayError } from '../../src/errors.js';
import { eventBody, lifecycleBody, lifecycleType, testBody } from '../../src/webhooks/payloads.js';
import type { LogEntry } from '../../src/sessions/types.js';

const MODEL = '3f0c2a8e-1b2c-4d5e-8f90-123456789abc';

/** The fields of one server-sent event (data lines joined as the EventSource does). */
function parseSse(text: string): { id?: string; event?: string; data: string } {
  const out: { id?: string; event?: string; data: string } = { data: '' };
  const data: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('id: ')) out.id = line.slice(4);
    else if (line.startsWith('event: ')) out.event = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  out.data = data.join('\n');
  return out;
}

function entry(id: string, kind: 'event' | 'status', data: string | Buffer, binary = false): LogEntry {
  return { id, ts: 1767225600000, kind, data: Buffer.isBuffer(data) ? data : Buffer.from(data), binary };
}

describe('server-sent events and webhook bodies follow the published schemas', () => {
  it('ready, events, status, base64, gap and end', () => {
    for (const [last, resumed] of [[null, false], ['1767225600000-3', true]] as const) {
      const ready = parseSse(sseReady(MODEL, last, resumed, last));
      assert.equal(ready.event, 'ready');
      m.sseReadySchema.parse(JSON.parse(ready.data));
    }
    const ev = parseSse(sseEntry(MODEL, entry('1767225600000-4', 'event', '{"api2_chat_message":{"id":1,"text":"a\\nb"}}'), 'onlyfans'));
    assert.equal(ev.event, 'api2_chat_message');
    assert.equal(ev.id, '1767225600000-4');
    m.sseEventDataSchema.parse(JSON.parse(ev.data));
    const st = parseSse(sseEntry(MODEL, entry('1767225600000-5', 'status', '{"upstream":"reconnecting","reason":"1006"}'), 'onlyfans'));
    assert.equal(st.event, 'status');
    m.statusFrameSchema.parse(JSON.parse(st.data));
    const b64 = parseSse(sseEntry(MODEL, entry('1767225600000-6', 'event', Buffer.from([0, 1, 255]), true), 'onlyfans'));
    assert.equal(b64.event, 'base64');
    m.sseBase64Schema.parse(b64.data);
    const gap = parseSse(sseGap(MODEL, '1767225600000-0', '1767225600000-4'));
    m.gapFrameSchema.parse(JSON.parse(gap.data));
    const end = parseSse(sseEnd(new GatewayError('INVALID_API_KEY', 'The API key was revoked')));
    assert.equal(end.event, 'end');
    m.sseEndSchema.parse(JSON.parse(end.data));
    assert.throws(() => m.sseReadySchema.parse({ modelId: MODEL }), 'the schemas do refuse a wrong shape');
  });

  it('webhook bodies: OnlyFans events, every lifecycle type and the test delivery', () => {
    const e = eventBody(MODEL, '1767225600000-7', 1767225600000, Buffer.from('{"api2_chat_message":{"id":9}}'), false);
    assert.ok(e);
    m.webhookEventBodySchema.parse(JSON.parse(e.body));
    for (const kind of ['connected', 'disconnected', 'credentials_rejected', 'credentials_refreshed', 'session.upstream_down', 'session.upstream_restored']) {
      const type = lifecycleType(kind);
      assert.ok(type, `a webhook type for ${kind}`);
      m.webhookLifecycleBodySchema.parse(JSON.parse(lifecycleBody(type, MODEL, 'why', '2026-12-02T15:00:00.000Z')));
    }
    m.webhookTestBodySchema.parse(JSON.parse(testBody('wh_1', '2026-12-02T15:00:00.000Z')));
  });
});
