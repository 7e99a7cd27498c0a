/**
 * The Lua scripts behind the cluster event log (./event-log-redis.ts). Each runs atomically,
 * so an append is checked against the fence, written and trimmed as one step, and a read sees
 * one state of the stream (a trim between "is the id kept" and "what follows it" would
 * otherwise drop entries without a gap).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { EntryKind, LogEntry } from './types.js';

/**
 * KEYS: fence, log stream, logs set. ARGV: token, maxEvents, maxAgeMs, model id, feed channel,
 * then per entry kind, binary ('1'/'0'), data. Returns the new ids, or the error FENCED when the
 * fence key does not hold the token (a lower one: the lease went on; a missing key or a
 * higher one: the token was never granted). Ids come from XADD `*`: `<ms>-<seq>` from the
 * server's clock, never lower than the stream's last id.
 *
 * The batch is published on the feed channel (parseBatch in ./redis-log-feed.ts reads it): the
 * stream's newest id before it ('0-0' when none), then per entry its id, kind, binary and data
 * length, a newline, and the entries' data one after the other.
 *
 * The stream expires maxAgeMs after its latest append: by then every entry is older than
 * the age bound, so an idle model ages out without a sweep.
 */
export const APPEND = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('FENCED not the current fencing token') end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local ids, head, body = {}, {last[1] and last[1][1] or '0-0'}, {}
for i = 6, #ARGV, 3 do
  local id = redis.call('XADD', KEYS[2], '*', 'kind', ARGV[i], 'binary', ARGV[i + 1], 'data', ARGV[i + 2])
  ids[#ids + 1] = id
  head[#head + 1] = id .. ' ' .. ARGV[i] .. ' ' .. ARGV[i + 1] .. ' ' .. #ARGV[i + 2]
  body[#body + 1] = ARGV[i + 2]
end
redis.call('XTRIM', KEYS[2], 'MAXLEN', ARGV[2])
local t = redis.call('TIME')
local minid = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[3])
if minid > 0 then redis.call('XTRIM', KEYS[2], 'MINID', string.format('%d', minid)) end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('PUBLISH', ARGV[5], table.concat(head, ' ') .. '\\n' .. table.concat(body))
return ids
`;

/**
 * KEYS: log stream. ARGV: after id ('' for the oldest), limit + 1. Returns
 * {entries, newest id or '', 1 when the after id is kept}; entries follow the after id when it
 * is kept, else start at the oldest.
 */
export const READ = `
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #newest == 0 then return {{}, '', 0} end
local start, found = '-', 0
if ARGV[1] ~= '' and #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 1 then
  start, found = '(' .. ARGV[1], 1
end
return {redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', ARGV[2]), newest[1][1], found}
`;

/**
 * KEYS: log stream. ARGV: after id, limit. Returns {1 when the after id is still kept, 1 when
 * the stream never lost an entry to trimming (every entry ever added is still there; Redis 7
 * counts them, older versions answer 0), up to limit entries after the id}: what a follower that
 * started at the after id missed, and whether that is all of it. A missing stream has nothing.
 */
export const SINCE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 1, {}} end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local added, length = -1, -2
for i = 1, #info, 2 do
  if info[i] == 'entries-added' then added = info[i + 1] end
  if info[i] == 'length' then length = info[i + 1] end
end
local kept = #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
return {kept, added == length and 1 or 0, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])}
`;

/** The id of the stream's newest entry, or null when it has none. */
export async function newestId(redis: Redis, key: string): Promise<string | null> {
  return (await redis.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0] ?? null;
}

/** A script sent by its SHA1, and in full once when the server does not have it yet. */
export class LogScript {
  private readonly sha: string;

  constructor(private readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  /** Runs it with Buffer replies (entry data is binary). */
  async run(redis: Redis, keys: string[], args: (string | Buffer | number)[]): Promise<unknown> {
    try {
      return await redis.callBuffer('EVALSHA', this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.callBuffer('EVAL', this.lua, keys.length, ...keys, ...args);
    }
  }
}

/** A stream entry as Buffer replies give it: id, then field, value, field, value… */
export type RawEntry = [Buffer, Buffer[]];

/** Decodes a stream entry written by the append script. */
export function entryOfRaw([id, fields]: RawEntry): LogEntry {
  let kind: EntryKind = 'event';
  let binary = false;
  let data: Buffer = Buffer.alloc(0);
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!.toString();
    const value = fields[i + 1]!;
    if (name === 'kind') kind = value.toString() === 'status' ? 'status' : 'event';
    else if (name === 'binary') binary = value.toString() === '1';
    else if (name === 'data') data = value;
  }
  const text = id.toString();
  return { id: text, ts: Number(text.slice(0, text.indexOf('-'))), kind, data, binary };
}
