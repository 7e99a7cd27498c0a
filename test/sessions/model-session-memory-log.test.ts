/**
 * MemoryEventLog, the event log the ModelSession tests run on: ids, fencing, retention, the
 * gap rules of contract §3 and follow.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryEventLog } from '../../src/sessions/event-log-memory.js';
import { FencedError, type LogEntry, type NewEntry } from '../../src/sessions/types.js';

const RETENTION = { maxEvents: 100, maxAgeMs: 60_000 };
const event = (text: string): NewEntry => ({ kind: 'event', data: Buffer.from(text), binary: false });

describe('MemoryEventLog', () => {
  it('assigns increasing ids, several per millisecond, never backwards when the clock is', async () => {
    let now = 5000;
    const log = new MemoryEventLog(() => now);
    const a = await log.append({ modelId: 'm', token: 1 }, [event('a'), event('b')], RETENTION);
    now = 4000; // the clock stepped back
    const b = await log.append({ modelId: 'm', token: 1 }, [event('c')], RETENTION);
    now = 6000;
    const c = await log.append({ modelId: 'm', token: 1 }, [event('d')], RETENTION);
    assert.deepEqual([...a, ...b, ...c].map((e) => e.id), ['5000-0', '5000-1', '5000-2', '6000-0']);
    assert.equal(await log.lastId('m'), '6000-0');
    assert.equal(await log.lastId('other'), null);
  });

  it('refuses a token lower than the highest seen, all or nothing', async () => {
    const log = new MemoryEventLog();
    await log.append({ modelId: 'm', token: 3 }, [event('a')], RETENTION);
    await assert.rejects(log.append({ modelId: 'm', token: 2 }, [event('b')], RETENTION), FencedError);
    await log.append({ modelId: 'm', token: 4 }, [], RETENTION);
    await assert.rejects(log.append({ modelId: 'm', token: 3 }, [event('c')], RETENTION), FencedError);
    assert.deepEqual((await log.read('m', null, 10)).entries.map((e) => e.data.toString()), ['a']);
    await log.append({ modelId: 'other', token: 1 }, [event('x')], RETENTION); // fences are per model
  });

  it('trims by count and by age, keeping the newest, and tells a gap for what was trimmed', async () => {
    let now = 1000;
    const log = new MemoryEventLog(() => now);
    const fence = { modelId: 'm', token: 1 };
    const first = await log.append(fence, [event('1'), event('2'), event('3')], { maxEvents: 2, maxAgeMs: 10_000 });
    assert.deepEqual((await log.read('m', null, 10)).entries.map((e) => e.data.toString()), ['2', '3']);
    assert.deepEqual(await log.size(), { entries: 2, bytes: 2 });
    const gone = (first[0] as LogEntry).id;
    const page = await log.read('m', gone, 10);
    assert.deepEqual(page.gap, { after: gone, before: (first[1] as LogEntry).id });
    assert.equal(page.entries.length, 2);
    now = 20_000;
    await log.append(fence, [event('4')], { maxEvents: 10, maxAgeMs: 10_000 });
    assert.deepEqual((await log.read('m', null, 10)).entries.map((e) => e.data.toString()), ['4']);
  });

  it('pages after an id; the newest id is no gap; malformed and unknown ids get a gap from the oldest', async () => {
    const log = new MemoryEventLog();
    const added = await log.append({ modelId: 'm', token: 1 }, ['a', 'b', 'c'].map(event), RETENTION);
    const [a, b, c] = added as [LogEntry, LogEntry, LogEntry];
    const page = await log.read('m', a.id, 1);
    assert.deepEqual(page.entries.map((e) => e.id), [b.id]);
    assert.equal(page.more, true);
    assert.equal(page.gap, null);
    assert.equal(page.lastId, c.id);
    assert.deepEqual(await log.read('m', c.id, 5), { entries: [], gap: null, lastId: c.id, more: false });
    assert.deepEqual((await log.read('m', 'nonsense', 5)).gap, { after: null, before: a.id });
    assert.deepEqual((await log.read('m', '99999999999999-0', 5)).gap, { after: null, before: a.id });
    assert.deepEqual(await log.read('empty', null, 5), { entries: [], gap: null, lastId: null, more: false });
    await assert.rejects(log.read('m', null, 0), RangeError);
  });

  it('follow sees every batch in order until unsubscribed; remove forgets the entries, not the fence', async () => {
    const log = new MemoryEventLog();
    const seen: string[][] = [];
    const stop = log.follow('m', { entries: (e) => seen.push(e.map((x) => x.data.toString())), lost() {} });
    await log.append({ modelId: 'm', token: 2 }, [event('a'), event('b')], RETENTION);
    await log.append({ modelId: 'm', token: 2 }, [event('c')], RETENTION);
    stop();
    await log.append({ modelId: 'm', token: 2 }, [event('d')], RETENTION);
    assert.deepEqual(seen, [['a', 'b'], ['c']]);
    await log.remove('m');
    assert.equal(await log.lastId('m'), null);
    await assert.rejects(log.append({ modelId: 'm', token: 1 }, [event('e')], RETENTION), FencedError);
    await log.close();
    await assert.rejects(log.lastId('m'), /closed/);
  });
});
