/** Reading a whole model log in tests. */
import assert from 'node:assert/strict';
import type { EventLog, LogEntry } from '../../src/sessions/types.js';

/** Every entry of the model's log, page by page (bounded), with no gap. */
export async function readAll(log: EventLog, modelId: string, limit = 500): Promise<LogEntry[]> {
  const all: LogEntry[] = [];
  let afterId: string | null = null;
  for (let i = 0; i < 10_000; i++) {
    const page = await log.read(modelId, afterId, limit);
    assert.equal(page.gap, null);
    all.push(...page.entries);
    if (!page.more) return all;
    afterId = page.entries[page.entries.length - 1]!.id;
  }
  throw new Error('readAll: too many pages');
}
