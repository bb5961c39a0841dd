/**
 * The Lua scripts that change or read the registry. Each runs atomically, which is what keeps the
 * index, the node hashes, the change counter and the notifications consistent with each other.
 *
 * Every script first makes sure the registry has an `epoch`: a random id written once. A Redis that
 * restarted without persistence (or was flushed) comes back without it and gets a new one, which
 * tells readers that revision numbers started again.
 */

const ENSURE_EPOCH = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end`;

/**
 * KEYS: meta, index, node key. ARGV: new epoch, id, token, record JSON, ttl ms, mode, channel.
 * Mode `register` writes unconditionally (taking over an id held by another token); mode `refresh`
 * backs off if another token holds the id. An unchanged record only has its TTL renewed: no new
 * revision and no notification. Returns { epoch, status, rev[, other token] } with status one of
 * `same`, `created`, `updated`, `replaced`, `conflict`.
 */
export const REGISTER_LUA = `${ENSURE_EPOCH}
local old = redis.call('HMGET', KEYS[3], 'token', 'rev', 'record')
if ARGV[6] == 'refresh' and old[1] and old[1] ~= ARGV[3] then
  return {epoch, 'conflict', '0', old[1]}
end
if old[1] == ARGV[3] and old[3] == ARGV[4] then
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
  redis.call('SADD', KEYS[2], ARGV[2])
  return {epoch, 'same', old[2] or '0'}
end
local rev = redis.call('HINCRBY', KEYS[1], 'rev', 1)
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], 'token', ARGV[3], 'rev', rev, 'record', ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[7], cjson.encode({t = 'up', e = epoch, r = rev, id = ARGV[2], k = ARGV[3], rec = ARGV[4]}))
local status = 'created'
if old[1] == ARGV[3] then status = 'updated' elseif old[1] then status = 'replaced' end
return {epoch, status, tostring(rev)}`;

/**
 * KEYS: meta, index, node key. ARGV: new epoch, id, token, channel. Removes the node only if it is
 * still registered under `token` (a restarted process with the same id is left alone).
 * Returns { epoch, 'removed' | 'absent' }.
 */
export const DEREGISTER_LUA = `${ENSURE_EPOCH}
if redis.call('HGET', KEYS[3], 'token') ~= ARGV[3] then
  return {epoch, 'absent'}
end
redis.call('DEL', KEYS[3])
redis.call('SREM', KEYS[2], ARGV[2])
local rev = redis.call('HINCRBY', KEYS[1], 'rev', 1)
redis.call('PUBLISH', ARGV[4], cjson.encode({t = 'down', e = epoch, r = rev, id = ARGV[2], k = ARGV[3]}))
return {epoch, 'removed'}`;

/**
 * KEYS: meta, index. ARGV: new epoch, node key prefix. Reads every registered node at one
 * revision and drops expired ids from the index. Returns { epoch, rev, id, token, rev, record, ... }.
 */
export const LIST_LUA = `${ENSURE_EPOCH}
local out = {epoch, redis.call('HGET', KEYS[1], 'rev') or '0'}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local v = redis.call('HMGET', ARGV[2] .. id, 'token', 'rev', 'record')
  if v[1] and v[3] then
    out[#out + 1] = id
    out[#out + 1] = v[1]
    out[#out + 1] = v[2] or '0'
    out[#out + 1] = v[3]
  else
    redis.call('SREM', KEYS[2], id)
  end
end
return out`;
