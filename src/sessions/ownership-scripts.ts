/**
 * The Lua scripts behind {@link RedisOwnership}. Each runs atomically, so two nodes racing for
 * one model's lease cannot both get it, and a node can only extend or drop a lease whose value
 * is still its own (`<nodeId> <token>`: the token makes a lease from an earlier grant to the
 * same node a different value).
 */

/**
 * KEYS: lease, fence. ARGV: node id, ttl ms.
 * Returns the new fencing token, or nil when somebody holds the lease.
 */
export const ACQUIRE_LEASE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
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
