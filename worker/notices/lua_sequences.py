"""The sequence scripts: a charge failure opens or joins, a payment closes, atomically."""

from __future__ import annotations

from typing import Final

from worker.notices.lua import CANCEL_STEP

#: A charge failure and its sequence, recorded once per event id: the first failure opens
#: the sequence, a later one joins it, one older than the payment that closed it is stale.
#: Returns {decision, notice id, round, 'new' | 'dup'}.
SEQ_FAIL: Final = """
local prev = redis.call('GET', KEYS[4])
if prev then
  local d, n, r = string.match(prev, '^(%a+)|([^|]*)|(%d*)|')
  return {d, n, r, 'dup'}
end
local failed, ttl = tonumber(ARGV[2]), tonumber(ARGV[4])
local st = redis.call('HMGET', KEYS[1], 'state', 'round', 'first', 'closed_occurred')
local closed = nil
if st[1] == 'closed' then closed = tonumber(st[4] or '') end
if st[1] ~= 'open' then
  local settled = tonumber(redis.call('GET', KEYS[6]) or '')
  if settled and (not closed or settled > closed) then closed = settled end
end
local decision, nid, round
if st[1] == 'open' then
  decision, nid, round = 'join', st[3], st[2]
  redis.call('RPUSH', KEYS[2], ARGV[9])
  local last = tonumber(redis.call('HGET', KEYS[1], 'last_failed_at') or '') or 0
  if failed > last then redis.call('HSET', KEYS[1], 'last_failed_at', ARGV[2]) end
elseif closed and failed <= closed then
  decision, nid, round = 'stale', ARGV[5], st[2] or '0'
  if not st[1] then
    redis.call('HSET', KEYS[1], 'id', ARGV[12], 'state', 'closed', 'round', '0',
      'subscription_id', ARGV[6], 'invoice_id', ARGV[7], 'closed_occurred', tostring(closed))
    redis.call('SADD', KEYS[5], ARGV[12])
  end
  redis.call('RPUSH', KEYS[2], ARGV[10])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[5])
else
  round = tostring((tonumber(st[2] or '0') or 0) + 1)
  decision, nid = 'open', ARGV[5]
  redis.call('HSET', KEYS[1], 'id', ARGV[12], 'state', 'open', 'round', round, 'first', nid,
    'subscription_id', ARGV[6], 'invoice_id', ARGV[7], 'opened_at', ARGV[3],
    'opened_failed_at', ARGV[2], 'last_failed_at', ARGV[2])
  redis.call('HDEL', KEYS[1], 'closed_by', 'closed_kind', 'closed_at', 'stopped')
  redis.call('RPUSH', KEYS[2], ARGV[8])
  redis.call('ZADD', KEYS[3], ARGV[3], nid)
  redis.call('SADD', KEYS[5], ARGV[12])
end
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[11]), -1)
redis.call('SET', KEYS[4], decision .. '|' .. nid .. '|' .. round .. '|' .. ARGV[12], 'EX', ttl)
for i = 1, 5 do redis.call('EXPIRE', KEYS[i], ttl) end
return {decision, nid, round, 'new'}
"""

#: A payment, void or cancellation, recorded once per event id: it closes the invoice's
#: sequence (or every open one of the subscription) and cancels their pending steps at once
#: (a step being sent right now holds a lease: the send path's own check stops it).
#: Returns {'ok' | 'dup', closed, cancelled, still leased}.
SEQ_CLOSE: Final = (
    CANCEL_STEP
    + """
local prev = redis.call('GET', KEYS[1])
if prev then return {'dup', '0', '0', '0'} end
local prefix, now, occurred, ttl = ARGV[6], tonumber(ARGV[4]), tonumber(ARGV[3]), tonumber(ARGV[5])
local cap = tonumber(ARGV[12])
local targets
if ARGV[7] ~= '' then
  targets = {ARGV[7]}
  local k = prefix .. 'q:' .. ARGV[7]
  if redis.call('EXISTS', k) == 0 then
    -- Paid before any failure arrived: a later, older failure is then known to be stale.
    redis.call('HSET', k, 'id', ARGV[7], 'state', 'closed', 'round', '0',
      'subscription_id', ARGV[8], 'invoice_id', ARGV[9], 'closed_occurred', ARGV[3],
      'closed_by', ARGV[1], 'closed_kind', ARGV[2], 'closed_at', ARGV[4])
    redis.call('SADD', KEYS[2], ARGV[7])
    redis.call('RPUSH', k .. ':h', ARGV[10])
    redis.call('EXPIRE', k, ttl)
    redis.call('EXPIRE', k .. ':h', ttl)
    redis.call('EXPIRE', KEYS[2], ttl)
    targets = {}
  end
else
  targets = redis.call('SMEMBERS', KEYS[2])
  local cur = tonumber(redis.call('GET', KEYS[3]) or '') or 0
  if occurred > cur then redis.call('SET', KEYS[3], ARGV[3], 'EX', ttl) end
end
local closed, cancelled, leased = 0, 0, 0
for _, sid in ipairs(targets) do
  local k = prefix .. 'q:' .. sid
  local st = redis.call('HMGET', k, 'state', 'opened_failed_at', 'closed_occurred')
  if st[1] == 'open' and occurred >= (tonumber(st[2] or '') or 0) then
    redis.call('HSET', k, 'state', 'closed', 'closed_by', ARGV[1], 'closed_kind', ARGV[2],
      'closed_at', ARGV[4], 'closed_occurred', ARGV[3])
    redis.call('RPUSH', k .. ':h', ARGV[10])
    closed = closed + 1
    for _, nid in ipairs(redis.call('ZRANGE', k .. ':n', 0, -1)) do
      local ns = redis.call('HMGET', prefix .. 'n:' .. nid, 'status', 'lease_until')
      if ns[1] == 'queued' or ns[1] == 'deferred' or ns[1] == 'scheduled' then
        if (tonumber(ns[2] or '') or 0) > now then
          leased = leased + 1
        else
          cancel_step(prefix, nid, ns[1], now, ARGV[13], ARGV[11], ARGV[14], cap)
          cancelled = cancelled + 1
        end
      end
    end
  elseif st[1] == 'open' then
    redis.call('RPUSH', k .. ':h', ARGV[15])
  elseif st[1] == 'closed' and ARGV[7] ~= '' then
    redis.call('RPUSH', k .. ':h', ARGV[10])
    if occurred > (tonumber(st[3] or '') or 0) then
      redis.call('HSET', k, 'closed_occurred', ARGV[3])
    end
  end
  redis.call('LTRIM', k .. ':h', -cap, -1)
end
local summary = 'close|' .. closed .. '|' .. cancelled .. '|' .. ARGV[7] .. '|' .. ARGV[8]
redis.call('SET', KEYS[1], summary, 'EX', ttl)
return {'ok', tostring(closed), tostring(cancelled), tostring(leased)}
"""
)
