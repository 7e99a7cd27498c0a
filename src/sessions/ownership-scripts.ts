/**
 * The Lua scripts behind {@link RedisOwnership}. Each runs atomically, so two nodes racing for
 * one model's lease cannot both get it, and a node can only extend or drop a lease whose value
 * is still its own (`<nodeId> <token>`: the token makes a lease from an earlier grant to the
 * same node a different value).
 */

/**
 * KEYS: lease, fence, the model's relay-slot hash. ARGV: node id, ttl ms, node key prefix.
 * Returns the new fencing token, or nil when somebody holds the lease or a live node still
 * relays the model on a socket of its own (relay mode, being switched to session): the session
 * must not open a second socket before those close.
 */
export const ACQUIRE_LEASE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local slots = redis.call('HGETALL', KEYS[3])
for i = 2, #slots, 2 do
  if redis.call('EXISTS', ARGV[3] .. slots[i]) == 1 then return false end
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. token, 'PX', ARGV[2])
return token
`;

/** KEYS: lease. ARGV: the lease's value, ttl ms. Returns 1 when extended, 0 when not ours. */
export const RENEW_LEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/** KEYS: lease. ARGV: the lease's value. Returns 1 when deleted, 0 when not ours. */
export const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;
