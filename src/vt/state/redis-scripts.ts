/**
 * The Lua scripts of the Redis store (redis.ts), one constant each, run atomically by the server. The
 * keys they keep are the storage format every process sharing the namespace reads: the names below
 * stay as they are. Every key is under P = `<namespace>:<keyspace>:`; times are ms since the epoch.
 *
 * | key                 | type   | holds                                                                |
 * | ------------------- | ------ | -------------------------------------------------------------------- |
 * | P sp                | zset   | pending slots (granted, not answered): slot id, scored by its expiry |
 * | P ss                | zset   | settled slots: slot id, scored by when it leaves the window          |
 * | P d:<YYYY-MM-DD>    | string | calls granted on that UTC day (expires after DAY_COUNTER_TTL_MS)     |
 * | P pause             | string | every call paused until this time (PX)                               |
 * | P ce:<canon>        | hash   | a cache entry (PX), fields: b body as stored (packed-body.ts),       |
 * |                     |        | f fetchedAt, n notFound ('1'/'0'), x expiresAt, a its keys (JSON),   |
 * |                     |        | e the body's encoding                                                |
 * | P ck:<key>          | string | a cache key (the canonical one too) → its entry's canonical key (PX) |
 * | P cidx              | zset   | canonical keys, scored by storing order (oldest goes first)          |
 * | P cseq              | string | the storing order's counter                                          |
 * | P csz               | hash   | canonical key → the entry's size in bytes                            |
 * | P cb                | string | the bytes of all entries (cidx, cseq, csz, cb expire a day after     |
 * |                     |        | the last entry's ttl)                                                |
 * | P l:<key>           | hash   | a lease (PX), fields: o owner, x expiresAt                           |
 * | P doc:<key>         | hash   | a document (PX, or none), fields: v value, x expiresAt ('' = none)   |
 * | P didx              | zset   | document keys, all scored 0 (listed by ZRANGEBYLEX)                  |
 *
 * Standalone Redis: the cache scripts and DOC_LIST touch keys they build from P, which a cluster would
 * not allow.
 */

import { DAY_MS } from '../../util/time.js';
import { FREES_LISTED } from './store.js';

const DAY_COUNTER_TTL_MS = 2 * DAY_MS;

/**
 * The earliest live slots of each kind, as many as slotsToRead (store.ts) says, into s (settled) and p
 * (pending) WITHSCORES: a call reads these, not every slot a large window holds. Uses live and
 * requests; s and p are declared by the script.
 */
const EARLIEST = `local n = math.max(${FREES_LISTED}, live - math.max(1, requests) + 1)
    s = redis.call('ZRANGE', KEYS[2], 0, n - 1, 'WITHSCORES')
    p = redis.call('ZRANGE', KEYS[1], 0, n - 1, 'WITHSCORES')`;

/**
 * Grants a call or says why not: refusalOf's rule (store.ts) in Lua, so that one round trip decides it
 * atomically for every machine on the key. Drops the expired slots, checks the day's quota, the pause
 * and the window, then adds a pending slot and counts the call. Answers {1, slot, the day's count} or {0,
 * reason, the pause's end or 0, and when the window is full its live count and earliest settled and
 * pending slots WITHSCORES (EARLIEST)}.
 * KEYS: pending, settled, day counter, pause. ARGV: now, pending expiry, slot, has window, requests,
 * quota (-1: none), key ttl. The sets' own expiries (a safety net) are only ever extended.
 */
export const ACQUIRE = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local used = tonumber(redis.call('GET', KEYS[3]) or '0')
local quota = tonumber(ARGV[6])
if quota >= 0 and used >= quota then return {0, 'daily', 0} end
local paused = tonumber(redis.call('GET', KEYS[4]) or '0')
if paused > now then return {0, 'paused', redis.call('GET', KEYS[4])} end
if ARGV[4] == '1' then
  local live = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])
  local requests = tonumber(ARGV[5])
  if live >= requests then
    local s, p
    ${EARLIEST}
    return {0, 'window', 0, live, s, p}
  end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[7]) then redis.call('PEXPIRE', KEYS[1], ARGV[7]) end
local n = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ${DAY_COUNTER_TTL_MS})
return {1, ARGV[3], n}
`;

/**
 * A granted call answered: its slot leaves the pending set and, with a window, stays in the settled
 * one until it leaves the window. KEYS: pending, settled. ARGV: slot, free time ('' = no window: just
 * remove), key ttl.
 */
export const SETTLE = `
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
end
return 1
`;

/**
 * A granted call that never reached VirusTotal: its slot is removed and, if it was there, its day's
 * count given back. KEYS: pending, settled, the slot's day counter. ARGV: slot, now.
 */
export const REFUND = `
local r = redis.call('ZREM', KEYS[1], ARGV[1]) + redis.call('ZREM', KEYS[2], ARGV[1])
if r > 0 then
  local v = tonumber(redis.call('GET', KEYS[3]) or '0')
  if v > 0 then redis.call('DECR', KEYS[3]) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
return r
`;

/** Pauses every call until a time (a later pause wins). KEYS: pause. ARGV: until, ttl. */
export const PAUSE = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1
`;

/**
 * What is used, expired slots dropped first: {today's count, the pause's end, the live count, and with a
 * window the earliest settled and pending slots WITHSCORES (EARLIEST)}.
 * KEYS: pending, settled, today's counter, pause. ARGV: now, the window's requests (0: no window).
 */
export const USAGE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local live = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])
local requests = tonumber(ARGV[2])
local s, p = {}, {}
if requests > 0 then
  ${EARLIEST}
end
return {redis.call('GET', KEYS[3]) or '0', redis.call('GET', KEYS[4]) or '0', live, s, p}
`;

/** Shared Lua helpers of the cache scripts; P is the key prefix. */
const CACHE_LIB = `
local P = ARGV[1]
local IDX, SZ, BYTES = P .. 'cidx', P .. 'csz', P .. 'cb'
local function drop(canon)
  local ek = P .. 'ce:' .. canon
  local al = redis.call('HGET', ek, 'a')
  if al then
    for _, k in ipairs(cjson.decode(al)) do
      if redis.call('GET', P .. 'ck:' .. k) == canon then redis.call('DEL', P .. 'ck:' .. k) end
    end
  end
  redis.call('DEL', ek)
  local sz = redis.call('HGET', SZ, canon)
  if sz then
    redis.call('DECRBY', BYTES, sz)
    redis.call('HDEL', SZ, canon)
  end
  redis.call('ZREM', IDX, canon)
end
local function reconcile(now, n)
  for _, c in ipairs(redis.call('ZRANGE', IDX, 0, n - 1)) do
    local x = redis.call('HGET', P .. 'ce:' .. c, 'x')
    if (not x) or tonumber(x) <= now then drop(c) end
  end
  if redis.call('ZCARD', IDX) == 0 then redis.call('DEL', BYTES, SZ) end
end
`;

/**
 * A cache entry by any of its keys: {body, fetchedAt, notFound, encoding}, or false when missing or
 * expired. KEYS: the alias key of the key asked. ARGV: prefix, now.
 */
export const CACHE_GET = `
local canon = redis.call('GET', KEYS[1])
if not canon then return false end
local h = redis.call('HMGET', ARGV[1] .. 'ce:' .. canon, 'b', 'f', 'n', 'x', 'e')
if not h[1] or not h[4] then return false end
if tonumber(h[4]) <= tonumber(ARGV[2]) then return false end
return {h[1], h[2], h[3], h[5] or '0'}
`;

/**
 * Stores a cache entry under its keys: an older entry under any of them goes whole, then expired
 * entries and, while over maxBytes, the oldest stored. KEYS: index. ARGV: prefix, now, expiresAt,
 * ttl, size, maxBytes, body (as stored: packed-body.ts), fetchedAt, notFound, keys (JSON), the body's
 * encoding.
 */
export const CACHE_SET = `${CACHE_LIB}
local now = tonumber(ARGV[2])
local size, maxb = tonumber(ARGV[5]), tonumber(ARGV[6])
local keys = cjson.decode(ARGV[10])
for _, k in ipairs(keys) do
  local owner = redis.call('GET', P .. 'ck:' .. k)
  if owner then drop(owner) end
  if redis.call('ZSCORE', IDX, k) then drop(k) end
end
if size > maxb then return 0 end
reconcile(now, 64)
local bytes = tonumber(redis.call('GET', BYTES) or '0')
while bytes + size > maxb do
  local o = redis.call('ZRANGE', IDX, 0, 0)
  if #o == 0 then
    redis.call('DEL', BYTES, SZ)
    break
  end
  drop(o[1])
  bytes = tonumber(redis.call('GET', BYTES) or '0')
end
local canon = keys[1]
local ek = P .. 'ce:' .. canon
redis.call('HSET', ek, 'b', ARGV[7], 'f', ARGV[8], 'n', ARGV[9], 'x', ARGV[3], 'a', ARGV[10], 'e', ARGV[11])
redis.call('PEXPIRE', ek, ARGV[4])
for _, k in ipairs(keys) do redis.call('SET', P .. 'ck:' .. k, canon, 'PX', ARGV[4]) end
local seq = redis.call('INCR', P .. 'cseq')
redis.call('ZADD', IDX, seq, canon)
redis.call('HSET', SZ, canon, size)
redis.call('INCRBY', BYTES, size)
local keep = tonumber(ARGV[4]) + 86400000
for _, k in ipairs({IDX, SZ, BYTES, P .. 'cseq'}) do redis.call('PEXPIRE', k, keep) end
return 1
`;

/** {entries, bytes} of the cache, expired entries dropped first. KEYS: index. ARGV: prefix, now. */
export const CACHE_STATS = `${CACHE_LIB}
reconcile(tonumber(ARGV[2]), 64)
return {redis.call('ZCARD', IDX), tonumber(redis.call('GET', BYTES) or '0')}
`;

/**
 * Takes or renews a lease unless another owner holds it unexpired: 1 taken, 0 not. KEYS: lease.
 * ARGV: owner, now, expiresAt, ttl.
 */
export const LEASE = `
local v = redis.call('HMGET', KEYS[1], 'o', 'x')
if v[1] and v[1] ~= ARGV[1] and v[2] and tonumber(v[2]) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'o', ARGV[1], 'x', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`;

/** Releases a lease if this owner holds it. KEYS: lease. ARGV: owner. */
export const RELEASE = `
if redis.call('HGET', KEYS[1], 'o') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

/**
 * Stores a document and lists it in the index. KEYS: doc, index. ARGV: key, value, expiresAt ('' =
 * none), ttl.
 */
export const DOC_PUT = `
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'x', ARGV[3])
if ARGV[3] == '' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1
`;

/** A document's value, or false when missing or expired. KEYS: doc. ARGV: now. */
export const DOC_GET = `
local v = redis.call('HMGET', KEYS[1], 'v', 'x')
if not v[1] then return false end
if v[2] and v[2] ~= '' and tonumber(v[2]) <= tonumber(ARGV[1]) then return false end
return v[1]
`;

/**
 * The unexpired document keys that start with a prefix, in order; index members whose document is
 * gone are removed. KEYS: index. ARGV: doc key prefix, key prefix asked, now.
 */
export const DOC_LIST = `
local min, max = '-', '+'
if ARGV[2] ~= '' then min, max = '[' .. ARGV[2], '(' .. ARGV[2] .. '\\255' end
local out = {}
for _, k in ipairs(redis.call('ZRANGEBYLEX', KEYS[1], min, max)) do
  local x = redis.call('HGET', ARGV[1] .. k, 'x')
  if not x then
    redis.call('ZREM', KEYS[1], k)
  elseif x == '' or tonumber(x) > tonumber(ARGV[3]) then
    out[#out + 1] = k
  end
end
return out
`;
