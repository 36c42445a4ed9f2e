"""The store's Lua scripts: each state change of a notice is one atomic script in Redis."""

from __future__ import annotations

from typing import Final

#: Cancel one pending step inside a script (a Lua function other scripts include).
_CANCEL_STEP = """
local function cancel_step(prefix, nid, from, now, iso, entry, reason, cap)
  local nk = prefix .. 'n:' .. nid
  redis.call('HSET', nk, 'status', 'cancelled', 'updated_at', iso, 'last_error', reason)
  redis.call('HDEL', nk, 'lease_until')
  redis.call('RPUSH', nk .. ':h', entry)
  redis.call('LTRIM', nk .. ':h', -cap, -1)
  redis.call('ZREM', prefix .. 'idx:st:' .. from, nid)
  redis.call('ZADD', prefix .. 'idx:st:cancelled', now, nid)
  redis.call('ZREM', prefix .. 'sched', nid)
end
-- Why a step of sequence ``seq`` (recorded in round ``round``) may not be sent, or nil.
local function seq_closed(prefix, seq, round)
  if not seq or seq == '' then return nil end
  local q = redis.call('HMGET', prefix .. 'q:' .. seq, 'state', 'round', 'closed_kind',
    'closed_by')
  if q[1] == 'open' and (not round or round == '' or round == q[2]) then return nil end
  if q[1] == 'open' then return 'not sent: the sequence was opened again since', '' end
  local why = 'not sent: the sequence is closed'
  if q[3] then why = why .. ' (' .. q[3] .. ' ' .. (q[4] or '') .. ')' end
  return why, q[4] or ''
end
"""

#: Create the record unless it exists: record, history, event, indexes, schedule.
CREATE: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'exists', redis.call('HGET', KEYS[1], 'status')}
end
local status, now, entry, ttl, prefix, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local fields = {}
local round = nil
for i = 10, #ARGV do
  fields[#fields + 1] = ARGV[i]
  if ARGV[i] == 'round' and (i - 10) % 2 == 0 then round = ARGV[i + 1] end
end
local sched = ARGV[8]
if KEYS[5] and status ~= 'suppressed' then
  -- A step of a sequence that closed (or opened again) meanwhile is never sent.
  local q = redis.call('HMGET', KEYS[5], 'state', 'round')
  if q[1] ~= 'open' or (round and round ~= q[2]) then
    status, sched = 'cancelled', ''
    fields[#fields + 1] = 'last_error'
    fields[#fields + 1] = 'not sent: the sequence was closed before this step was recorded'
  end
end
fields[#fields + 1] = 'status'
fields[#fields + 1] = status
redis.call('HSET', KEYS[1], unpack(fields))
if status == 'cancelled' and ARGV[1] ~= 'cancelled' then
  entry = cjson.encode({at = cjson.decode(entry)['at'], status = 'cancelled',
    detail = 'not sent: the sequence was closed before this step was recorded'})
end
redis.call('RPUSH', KEYS[2], entry)
redis.call('SET', KEYS[4], ARGV[9], 'EX', ttl)
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('ZADD', prefix .. 'idx:all', now, id)
redis.call('ZADD', prefix .. 'idx:st:' .. status, now, id)
if sched ~= '' then redis.call('ZADD', KEYS[3], sched, id) end
redis.call('SET', ARGV[7], id, 'EX', ttl)
return {'created', status}
"""

#: Move a notice to a status TRANSITIONS allow from its current one, under its lease.
TRANSITION: Final = """
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return {'missing', ''} end
local allowed = false
for s in string.gmatch(ARGV[2], '[^,]+') do if s == cur then allowed = true end end
if not allowed then return {'refused', cur} end
local to, now, entry, sched, prefix, id = ARGV[1], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if ARGV[8] ~= '' and redis.call('HGET', KEYS[1], 'lease_until') ~= ARGV[8] then
  return {'stale', cur}
end
local fields = {'status', to, 'updated_at', ARGV[9]}
for i = 11, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('HDEL', KEYS[1], 'lease_until')
if entry ~= '' then
  redis.call('RPUSH', KEYS[2], entry)
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[10]), -1)
end
redis.call('ZREM', prefix .. 'idx:st:' .. cur, id)
redis.call('ZADD', prefix .. 'idx:st:' .. to, now, id)
if sched == 'remove' then redis.call('ZREM', KEYS[3], id)
elseif sched ~= 'keep' then redis.call('ZADD', KEYS[3], sched, id) end
return {'ok', cur}
"""

#: Take the right to one send attempt: a lease, the attempt counted, record and event read.
#: The last step before SMTP, so the sequence is re-checked here, in the same script: a
#: step of a closed sequence (paid, voided, cancelled) is cancelled instead of claimed, and
#: a later step to an address suppressed since is suppressed. A scheduled step whose time
#: came moves to queued.
CLAIM: Final = (
    _CANCEL_STEP
    + """
local st = redis.call('HMGET', KEYS[1], 'status', 'lease_until', 'next_attempt_at', 'sequence',
  'step', 'to', 'round')
if not st[1] then return {'missing', ''} end
if st[1] ~= 'queued' and st[1] ~= 'deferred' and st[1] ~= 'scheduled' then
  return {'settled', st[1]}
end
if not redis.call('ZSCORE', KEYS[2], ARGV[3]) then return {'settled', st[1]} end
local now = tonumber(ARGV[1])
local lease = tonumber(st[2] or '') or 0
local due = tonumber(st[3] or '') or 0
if lease > now then return {'busy', st[1]} end
if ARGV[4] ~= 'force' and due > now then return {'notdue', st[1]} end
local prefix, id, iso, cap = ARGV[5], ARGV[3], ARGV[6], tonumber(ARGV[7])
local function entry(status, detail, by)
  return cjson.encode({at = iso, status = status, detail = detail, by = by})
end
if st[4] and st[4] ~= '' then
  local why, by = seq_closed(prefix, st[4], st[7])
  if why then
    if by == '' then by = false end
    cancel_step(prefix, id, st[1], now, iso, entry('cancelled', why, by), why, cap)
    return {'cancelled', st[1]}
  end
  if st[1] == 'scheduled' and st[5] ~= 'first' and st[6]
    and redis.call('EXISTS', prefix .. 'sup:' .. string.lower(st[6])) == 1 then
    local why = 'not sent: the address was suppressed since the sequence began'
    local nk = KEYS[1]
    redis.call('HSET', nk, 'status', 'suppressed', 'updated_at', iso, 'last_error', why)
    redis.call('RPUSH', nk .. ':h', entry('suppressed', why, false))
    redis.call('ZREM', prefix .. 'idx:st:scheduled', id)
    redis.call('ZADD', prefix .. 'idx:st:suppressed', now, id)
    redis.call('ZREM', KEYS[2], id)
    redis.call('RPUSH', prefix .. 'q:' .. st[4] .. ':h',
      entry('suppressed', 'reminders stopped: the address is suppressed (' .. (st[5] or '')
        .. ' step not sent)', false))
    redis.call('HSET', prefix .. 'q:' .. st[4], 'stopped', 'suppressed')
    return {'stopped', st[1]}
  end
end
if st[1] == 'scheduled' then
  redis.call('HSET', KEYS[1], 'status', 'queued', 'updated_at', iso)
  redis.call('RPUSH', KEYS[1] .. ':h', entry('queued', 'due: ' .. (st[5] or 'step'), false))
  redis.call('ZREM', prefix .. 'idx:st:scheduled', id)
  redis.call('ZADD', prefix .. 'idx:st:queued', now, id)
end
redis.call('HSET', KEYS[1], 'lease_until', ARGV[2], 'handed_at', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return {'ok', st[1], st[2] or '', redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[3])}
"""
)

#: Right before SMTP, in the sending engine (a send waits there for a slot and its rate
#: turn after the claim): go only while the lease is still this attempt's and the sequence
#: still open; a closed one cancels the step here. Returns 'ok', 'stale' or 'cancelled'.
CONFIRM: Final = (
    _CANCEL_STEP
    + """
local st = redis.call('HMGET', KEYS[1], 'status', 'lease_until', 'sequence', 'round')
if not st[1] or st[2] ~= ARGV[1] then return 'stale' end
local why, by = seq_closed(ARGV[2], st[3], st[4])
if not why then return 'ok' end
why = why .. '; found just before sending'
local entry = cjson.encode({at = ARGV[4], status = 'cancelled', detail = why, by = by})
cancel_step(ARGV[2], ARGV[5], st[1], tonumber(ARGV[3]), ARGV[4], entry, why, tonumber(ARGV[6]))
return 'cancelled'
"""
)

#: Hand out due notices, each pushed ahead so that concurrent sweepers do not repeat it.
SWEEP: Final = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids
"""

#: Give back a claim that was never used (the send never started): the lease goes, the
#: attempt is not counted, the notice is due again shortly.
RELEASE: Final = """
if redis.call('HGET', KEYS[1], 'lease_until') ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 'lease_until')
redis.call('HINCRBY', KEYS[1], 'attempts', -1)
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

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
    _CANCEL_STEP
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
