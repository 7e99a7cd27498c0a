/**
 * The Lua scripts behind the cluster-wide limits. Each limit is a Redis hash per organization
 * (or model): field = relay id, value = the id of the node holding it. A script runs
 * atomically, so two nodes racing for the last slot cannot both take it.
 *
 * A field counts only while its node's registration key exists; a node that died without
 * saying goodbye stops counting when its key expires (nodeTtlMs), and its fields are deleted
 * by the next script that meets them. (The scripts read node keys they are not passed, so
 * they need a single Redis, not Redis Cluster.)
 */

const LIVE_COUNT = `
local function live_count(key, node_prefix, alive)
  local fields = redis.call('HGETALL', key)
  local n = 0
  for i = 1, #fields, 2 do
    local node = fields[i + 1]
    local ok = alive[node]
    if ok == nil then
      ok = redis.call('EXISTS', node_prefix .. node) == 1
      alive[node] = ok
    end
    if ok then n = n + 1 else redis.call('HDEL', key, fields[i]) end
  end
  return n
end
`;

/**
 * KEYS: org hash, model hash, and for a relay-mode connection the model's session lease key.
 * ARGV: relay id, node id, org limit, model limit, node key prefix.
 * Returns 0 (taken), 1 (organization full), 2 (model full) or 3 (the model's session still
 * holds its OnlyFans socket: a relay must not open a second one). Idempotent for a relay id.
 */
export const ACQUIRE = `${LIVE_COUNT}
local alive = {}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 1 then return 3 end
if live_count(KEYS[1], ARGV[5], alive) >= tonumber(ARGV[3]) then return 1 end
if live_count(KEYS[2], ARGV[5], alive) >= tonumber(ARGV[4]) then return 2 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 0
`;

/** KEYS: org hash, model hash. ARGV: relay id. */
export const RELEASE = `
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 0
`;
