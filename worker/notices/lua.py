"""The store's Lua scripts: each state change of a notice is one atomic script in Redis."""

from __future__ import annotations

from typing import Final

#: Cancel one pending step inside a script (a Lua function other scripts include).
CANCEL_STEP: Final = """
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
-- Sent and delivered latencies count from here (a replay, a step whose time came).
if to == 'queued' then fields[#fields + 1] = 'queued_at'; fields[#fields + 1] = now end
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
-- For the per-hour counters: when the notice was queued, and to whom.
local seen = redis.call('HMGET', KEYS[1], 'created_at', 'queued_at', 'to')
return {'ok', cur, seen[1] or '', seen[2] or '', seen[3] or ''}
"""

#: Take the right to one send attempt: a lease, the attempt counted, record and event read.
#: The last step before SMTP, so the sequence is re-checked here, in the same script: a
#: step of a closed sequence (paid, voided, cancelled) is cancelled instead of claimed, and
#: a later step to an address suppressed since is suppressed. A scheduled step whose time
#: came moves to queued.
CLAIM: Final = (
    CANCEL_STEP
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
if st[2] == ARGV[2] then
  -- This very claim, made again because its reply was lost (Redis went away after it ran):
  -- the caller holds the lease already; nothing is counted twice.
  return {'ok', st[1], '', redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[3])}
end
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
  redis.call('HSET', KEYS[1], 'status', 'queued', 'updated_at', iso, 'queued_at', ARGV[1])
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
    CANCEL_STEP
    + """
local st = redis.call('HMGET', KEYS[1], 'status', 'lease_until', 'sequence', 'round')
if not st[1] or st[2] ~= ARGV[1] then return 'stale' end
local why, by = seq_closed(ARGV[2], st[3], st[4])
if not why then
  -- When the last check passed: a payment accepted after this cannot stop the mail.
  redis.call('HSET', KEYS[1], 'confirmed_at', ARGV[3])
  return 'ok'
end
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
