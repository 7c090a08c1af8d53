import { CONCURRENCY_RETRY_MS } from './memory-limit.store';

/**
 * Lua run atomically by Redis. Time comes from Redis `TIME` so every replica
 * shares one clock. Key layout per subject (all under one hash tag so a script
 * stays inside one Cluster slot):
 *   req  ZSET  member = unique check id, score = admission time (ms)
 *   tok  ZSET  member = charge id,       score = charge time (ms)
 *   tkw  HASH  'c:'..charge id -> tokens, '__sum' -> total tokens in window
 *   str  ZSET  member = slot id,         score = lease expiry (ms)
 * plus one SET per slot listing the `str` keys that hold it (for release/renew).
 */

const COMMON = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- drops token charges that left the window and keeps '__sum' in step
local function prune_tokens(tz, th, cutoff)
  while true do
    local old = redis.call('ZRANGEBYSCORE', tz, '-inf', cutoff, 'LIMIT', 0, 500)
    if #old == 0 then break end
    local fields = {}
    for i = 1, #old do fields[i] = 'c:' .. old[i] end
    local ws = redis.call('HMGET', th, unpack(fields))
    local sub = 0
    for i = 1, #ws do sub = sub + (tonumber(ws[i]) or 0) end
    redis.call('HDEL', th, unpack(fields))
    redis.call('ZREM', tz, unpack(old))
    if sub ~= 0 then redis.call('HINCRBY', th, '__sum', -sub) end
  end
  return tonumber(redis.call('HGET', th, '__sum') or '0')
end

-- sets a TTL of at least ms (never shortens one)
local function keep(key, ms)
  local ttl = redis.call('PTTL', key)
  if ttl < ms then redis.call('PEXPIRE', key, ms) end
end

local function oldest_reset(z, window)
  local o = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
  if #o == 0 then return window end
  return tonumber(o[2]) + window - now
end
`;

/**
 * KEYS: 4 per subject (req, tok, tkw, str), then the slot set.
 * ARGV: windowMs, leaseMs, slotId, estimate, checkId, subjectCount,
 *       then per subject rpm, tpm, streams (-1 = not enforced).
 * Returns {allowed, failedIndex (1-based over enforced limits), retryMs,
 *          remaining1, reset1, remaining2, reset2, ...} (reset -1 = none).
 */
export const CHECK_LUA = `${COMMON}
local window = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local slot = ARGV[3]
local est = tonumber(ARGV[4])
local check_id = ARGV[5]
local n = tonumber(ARGV[6])
local cutoff = now - window
local need_tokens = math.max(est, 1)

local lim = {}
local failed = 0
local retry = 0
for i = 1, n do
  local b = (i - 1) * 4
  local a = 6 + (i - 1) * 3
  local rq, tz, th, st = KEYS[b + 1], KEYS[b + 2], KEYS[b + 3], KEYS[b + 4]
  local rpm, tpm, conc = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  if rpm >= 0 then
    redis.call('ZREMRANGEBYSCORE', rq, '-inf', cutoff)
    local c = redis.call('ZCARD', rq)
    lim[#lim + 1] = {1, rpm, c, rq}
    if failed == 0 and c + 1 > rpm then
      failed = #lim
      if rpm == 0 then
        retry = window
      else
        -- fits once c - rpm + 1 of the oldest entries have left the window
        local e = redis.call('ZRANGE', rq, c - rpm, c - rpm, 'WITHSCORES')
        retry = tonumber(e[2]) + window - now
      end
    end
  end
  if tpm >= 0 then
    local sum = prune_tokens(tz, th, cutoff)
    lim[#lim + 1] = {2, tpm, sum, tz, th}
    if failed == 0 and sum + need_tokens > tpm then
      failed = #lim
      retry = window
      if need_tokens <= tpm then
        local freed = 0
        local start = 0
        local done = false
        while not done do
          local es = redis.call('ZRANGE', tz, start, start + 99, 'WITHSCORES')
          if #es == 0 then break end
          for j = 1, #es, 2 do
            freed = freed + (tonumber(redis.call('HGET', th, 'c:' .. es[j])) or 0)
            if sum - freed + need_tokens <= tpm then
              retry = tonumber(es[j + 1]) + window - now
              done = true
              break
            end
          end
          start = start + 100
        end
      end
    end
  end
  if conc >= 0 then
    redis.call('ZREMRANGEBYSCORE', st, '-inf', now)
    local c = redis.call('ZCARD', st)
    if redis.call('ZSCORE', st, slot) then c = c - 1 end
    lim[#lim + 1] = {3, conc, c, st}
    if failed == 0 and c + 1 > conc then
      failed = #lim
      retry = ${CONCURRENCY_RETRY_MS}
    end
  end
end

local out = {0, failed, retry}
if failed ~= 0 then
  for k = 1, #lim do
    local l = lim[k]
    out[#out + 1] = math.max(0, l[2] - l[3])
    if l[1] == 3 then out[#out + 1] = -1 else out[#out + 1] = oldest_reset(l[4], window) end
  end
  return out
end

out[1] = 1
local holders = {}
for k = 1, #lim do
  local l = lim[k]
  if l[1] == 1 then
    redis.call('ZADD', l[4], now, check_id)
    redis.call('PEXPIRE', l[4], window)
    out[#out + 1] = math.max(0, l[2] - l[3] - 1)
    out[#out + 1] = oldest_reset(l[4], window)
  elseif l[1] == 2 then
    if est > 0 then
      redis.call('ZADD', l[4], now, slot)
      redis.call('HINCRBY', l[5], 'c:' .. slot, est)
      redis.call('HINCRBY', l[5], '__sum', est)
    end
    keep(l[4], window)
    keep(l[5], window)
    out[#out + 1] = math.max(0, l[2] - l[3] - est)
    out[#out + 1] = oldest_reset(l[4], window)
  else
    redis.call('ZADD', l[4], now + lease, slot)
    keep(l[4], lease)
    holders[#holders + 1] = l[4]
    out[#out + 1] = math.max(0, l[2] - l[3] - 1)
    out[#out + 1] = -1
  end
end
if #holders > 0 then
  local sk = KEYS[n * 4 + 1]
  redis.call('SADD', sk, unpack(holders))
  keep(sk, lease)
end
return out
`;

/**
 * Takes back exactly what an admitting `CHECK_LUA` with the same KEYS and ARGV
 * charged: its request entry, its token charge and its stream slot. For a
 * script that admits and then refuses for another reason (a budget) at once.
 */
export const UNCHECK_LUA = `
local slot, check_id, n = ARGV[3], ARGV[5], tonumber(ARGV[6])
for i = 1, n do
  local b = (i - 1) * 4
  local rq, tz, th, st = KEYS[b + 1], KEYS[b + 2], KEYS[b + 3], KEYS[b + 4]
  redis.call('ZREM', rq, check_id)
  local w = redis.call('HGET', th, 'c:' .. slot)
  if w then
    redis.call('HDEL', th, 'c:' .. slot)
    redis.call('HINCRBY', th, '__sum', -tonumber(w))
    redis.call('ZREM', tz, slot)
  end
  redis.call('ZREM', st, slot)
end
redis.call('DEL', KEYS[n * 4 + 1])
return 1
`;

/**
 * KEYS: tok, tkw. ARGV: windowMs, delta, chargeId ('' = none), adjustmentId.
 */
export const ADJUST_LUA = `${COMMON}
local tz, th = KEYS[1], KEYS[2]
local window = tonumber(ARGV[1])
local delta = math.floor(tonumber(ARGV[2]))
local charge = ARGV[3]
prune_tokens(tz, th, now - window)
local w = nil
if charge ~= '' then w = redis.call('HGET', th, 'c:' .. charge) end
if w then
  local nw = math.max(0, tonumber(w) + delta)
  redis.call('HSET', th, 'c:' .. charge, nw)
  redis.call('HINCRBY', th, '__sum', nw - tonumber(w))
elseif delta > 0 then
  local id = 'adj:' .. ARGV[4]
  redis.call('ZADD', tz, now, id)
  redis.call('HINCRBY', th, 'c:' .. id, delta)
  redis.call('HINCRBY', th, '__sum', delta)
  keep(tz, window)
  keep(th, window)
elseif delta < 0 then
  -- refund from the oldest charges: conservative, they leave the window first
  local left = -delta
  local start = 0
  while left > 0 do
    local es = redis.call('ZRANGE', tz, start, start + 99)
    if #es == 0 then break end
    for j = 1, #es do
      local f = 'c:' .. es[j]
      local cw = tonumber(redis.call('HGET', th, f)) or 0
      local take = math.min(left, cw)
      if take > 0 then
        redis.call('HSET', th, f, cw - take)
        redis.call('HINCRBY', th, '__sum', -take)
        left = left - take
      end
      if left == 0 then break end
    end
    start = start + 100
  end
end
return 1
`;

/**
 * KEYS: slot set. ARGV: slotId. The stream keys come from the slot set; they
 * share its hash tag, so they live in the same Cluster slot.
 */
export const RELEASE_LUA = `
local holders = redis.call('SMEMBERS', KEYS[1])
for i = 1, #holders do redis.call('ZREM', holders[i], ARGV[1]) end
redis.call('DEL', KEYS[1])
return #holders
`;

/** KEYS: slot set. ARGV: slotId, leaseMs. Returns 1 if the lease was live. */
export const RENEW_LUA = `${COMMON}
local lease = tonumber(ARGV[2])
local holders = redis.call('SMEMBERS', KEYS[1])
local live = 0
for i = 1, #holders do
  local exp = redis.call('ZSCORE', holders[i], ARGV[1])
  if exp and tonumber(exp) > now then
    redis.call('ZADD', holders[i], 'XX', now + lease, ARGV[1])
    keep(holders[i], lease)
    live = 1
  end
end
if live == 1 then keep(KEYS[1], lease) else redis.call('DEL', KEYS[1]) end
return live
`;

/**
 * KEYS: the slot set, then the str key of every holder. ARGV: slotId, leaseMs.
 * Puts the slot back on every holder with a fresh lease (no limit check).
 */
export const RETAKE_LUA = `${COMMON}
local lease = tonumber(ARGV[2])
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], now + lease, ARGV[1])
  keep(KEYS[i], lease)
  redis.call('SADD', KEYS[1], KEYS[i])
end
keep(KEYS[1], lease)
return 1
`;
