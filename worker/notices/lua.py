"""The store's Lua scripts: each state change of a notice is one atomic script in Redis."""

from __future__ import annotations

from typing import Final

#: Create the record unless it exists: record, history, event, indexes, schedule.
CREATE: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'exists', redis.call('HGET', KEYS[1], 'status')}
end
local status, now, entry, ttl, prefix, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local fields = {}
for i = 10, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('RPUSH', KEYS[2], entry)
redis.call('SET', KEYS[4], ARGV[9], 'EX', ttl)
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('ZADD', prefix .. 'idx:all', now, id)
redis.call('ZADD', prefix .. 'idx:st:' .. status, now, id)
if ARGV[8] ~= '' then redis.call('ZADD', KEYS[3], ARGV[8], id) end
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
CLAIM: Final = """
local st = redis.call('HMGET', KEYS[1], 'status', 'lease_until', 'next_attempt_at')
if not st[1] then return {'missing', ''} end
if st[1] ~= 'queued' and st[1] ~= 'deferred' then return {'settled', st[1]} end
if not redis.call('ZSCORE', KEYS[2], ARGV[3]) then return {'settled', st[1]} end
local now = tonumber(ARGV[1])
local lease = tonumber(st[2] or '') or 0
local due = tonumber(st[3] or '') or 0
if lease > now then return {'busy', st[1]} end
if ARGV[4] ~= 'force' and due > now then return {'notdue', st[1]} end
redis.call('HSET', KEYS[1], 'lease_until', ARGV[2], 'handed_at', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return {'ok', st[1], st[2] or '', redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[3])}
"""

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
