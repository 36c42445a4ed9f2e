"""Taking a message off a Redis queue and recording it as unacknowledged in one step.

kombu's Redis transport takes a message with BRPOP and writes its unacknowledged record
(the ``unacked`` hash and ``unacked_index`` sorted set) in a second round trip. Between
the two the message is only in a socket: when Redis stops or crashes after it popped the
item and before its reply reached the worker, or when the worker dies with the reply
unread, the message is in no list at all and nothing can ever put it back.

Here the worker instead sends, in one write:

1. ``BLMOVE q q RIGHT RIGHT timeout``: waits until the first queue has an item and moves
   its last element to the last place, which leaves the list exactly as it was. It is
   only a wait that takes nothing (Redis ≥ 6.2).
2. ``EVAL TAKE``: pops the first item of the queues in kombu's order and, in the same
   script, records it under its delivery tag as kombu's QoS would. A crash now leaves it
   either on the queue (the script did not run, or its write was not yet in the AOF: both
   halves are one entry there) or in ``unacked``, from where kombu's visibility timeout
   brings it back.

Redis runs a blocked client's next command only once the block ends, so the script always
runs right after the wait. Items the script cannot read as an envelope are popped and
returned unrecorded, as kombu would; the worker records what it makes of them.
"""

from __future__ import annotations

import logging
from time import monotonic
from typing import Any, Final

import redis

log = logging.getLogger(__name__)

#: KEYS: the queue keys in the order kombu would BRPOP them, then the unacked hash and
#: the unacked index. Returns {queue key, item, delivery tag or ''} or false when every
#: queue is empty.
TAKE: Final = """
local n = #KEYS - 2
local unacked, index = KEYS[n + 1], KEYS[n + 2]
for i = 1, n do
  local item = redis.call('RPOP', KEYS[i])
  if item then
    local tag = ''
    local ok, msg = pcall(cjson.decode, item)
    if ok and type(msg) == 'table' and type(msg.properties) == 'table' then
      local p = msg.properties
      local info = p.delivery_info
      if type(p.delivery_tag) == 'string' and p.delivery_tag ~= '' and type(info) == 'table'
          and type(info.exchange) == 'string' and type(info.routing_key) == 'string'
          and msg.body ~= nil then
        tag = p.delivery_tag
        local t = redis.call('TIME')
        redis.call('ZADD', index, tonumber(t[1]) + tonumber(t[2]) / 1000000, tag)
        -- The record kombu writes: [envelope, exchange, routing key].
        redis.call('HSET', unacked, tag, '[' .. item .. ',' .. cjson.encode(info.exchange)
          .. ',' .. cjson.encode(info.routing_key) .. ']')
      end
    end
    return {KEYS[i], item, tag}
  end
end
return false
"""

#: The oldest server with BLMOVE.
MIN_VERSION: Final = (6, 2)


def server_supports(info: dict[str, Any]) -> bool:
    """Whether a Redis server (its ``INFO server``) has what the take needs."""
    parts = str(info.get("redis_version", "0")).split(".")
    try:
        version = tuple(int(part) for part in parts[:2])
    except ValueError:
        return False
    return version >= MIN_VERSION


def wait_seconds(timeout: float | None, keys: int) -> float:
    """How long the wait may block. It watches only the first queue key, so with more
    than one (several queues, or kombu's priority levels) it wakes at least every second
    to look at the others; 0 (block for ever) only with one key."""
    seconds = float(timeout or 0)
    if keys > 1 and (seconds <= 0 or seconds > 1):
        return 1.0
    return seconds


def commands(
    keys: list[str], unacked: str, index: str, timeout: float | None
) -> list[tuple[Any, ...]]:
    """The wait and the take, to be sent together on the channel's own connection."""
    first = keys[0]
    return [
        ("BLMOVE", first, first, "RIGHT", "RIGHT", wait_seconds(timeout, len(keys))),
        ("EVAL", TAKE, len(keys) + 2, *keys, unacked, index),
    ]


# -- on a kombu Redis channel (worker.runtime.transport.Channel) ---------------------------
def supported(channel: Any) -> bool:
    """Whether ``channel`` takes with the script (asked of the server once per channel)."""
    if channel._take_supported is None:
        if channel.global_keyprefix:
            # kombu prefixes each command's keys itself; an EVAL's are not among them.
            channel._take_supported = False
        else:
            try:
                info = channel.client.info("server")
            except redis.RedisError:
                return False  # asked again next time; BRPOP meets the same error
            channel._take_supported = server_supports(info)
            if not channel._take_supported:
                log.warning(
                    "Redis %s has no BLMOVE: messages are taken with BRPOP, which a "
                    "Redis crash between the pop and its reply can lose",
                    info.get("redis_version"),
                )
    return bool(channel._take_supported)


def send(channel: Any, timeout: float | None) -> None:
    """Send the wait-and-take on the channel's own connection (where kombu sends BRPOP)."""
    queues = channel._queue_cycle.consume(len(channel.active_queues))
    if not queues:
        return
    # kombu's BRPOP order: every queue at the highest priority, then the next level.
    keys = [channel._q_for_pri(queue, pri) for pri in channel.priority_steps for queue in queues]
    connection = channel.client.connection
    channel._in_poll = connection
    channel._brpop_sent_at = monotonic()
    packed = connection.pack_commands(
        commands(keys, channel.unacked_key, channel.unacked_index_key, timeout)
    )
    connection.send_packed_command(packed)
    channel._take_pending = True


def read(channel: Any, connection: Any, **options: Any) -> Any:
    """The two replies of a wait-and-take, both read before either error is raised (an
    unread reply would be taken for the next command's): the take's reply."""
    channel._take_pending = False
    replies: list[Any] = []
    for command in ("BLMOVE", "EVAL"):
        try:
            replies.append(channel.client.parse_response(connection, command, **options))
        except redis.ResponseError as exc:
            replies.append(exc)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies[1]
