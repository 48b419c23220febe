"""The CCP API's throttles, counted in Redis so every web process sees one count: wrong feed tokens, the abuse guard.

Both count per client address (ccpdash.throttling.client_address) under REDIS_PREFIX.

**Wrong feed tokens** have the logins' limit and cool-off (AXES_FAILURE_LIMIT, AXES_COOLOFF_TIME) but a count of
their own, in Redis rather than in axes' AccessAttempt rows: axes adds up every failure of an address, so an office
mistyping passwords would lock its CCP server out of the API, and a CCP server with a stale token would lock the
office out of the dashboard. One key per client counts its wrong tokens, and each one pushes the key's expiry back to
a cool-off from then. At the limit the client is locked out: every token it presents, the right one too (or guessing
would go on), is answered 429 until the key expires. Those refused tries are not counted, unlike axes' logins: a CCP
server retries unattended, and would otherwise stay locked out for ever after its token was fixed.

**The abuse guard** (API_RATE_LIMIT_PER_MINUTE; 0, the default, turns it off) is a generic cell rate algorithm: one
key per client holds the time up to which its allowance is spent; a client may send the limit's worth of requests at
once, then one every 60/limit seconds. One Lua script reads and moves that time, on Redis's clock, so concurrent
requests in several processes (or hosts) never both take the last slot.

**Redis down**: both fail open (the request goes on unthrottled), the API keeps answering while Redis is away, as
creates do. Each process logs the first failure of an outage, and the first answer after it.
"""

from __future__ import annotations

import logging
import math
from functools import cache

import redis
from django.conf import settings
from redis.commands.core import Script

logger = logging.getLogger(__name__)

# A request waits at most this long for Redis before it goes on unthrottled.
REDIS_TIMEOUT_SECONDS = 0.25

# KEYS[1]: the client's key; ARGV: seconds between two requests at the limit's pace, the burst's tolerance (seconds).
# Returns "0" when the request may go on (and takes its slot), else the seconds to wait, as a string (Lua numbers
# come back from Redis truncated to integers).
GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local spent_until = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local wait = spent_until - now - tolerance
if wait > 0 then
  return tostring(wait)
end
redis.call('SET', KEYS[1], tostring(spent_until + interval), 'PX', math.ceil((spent_until + interval - now) * 1000))
return '0'
"""


def token_lockout(client: str | None) -> int | None:
    """Seconds until `client`'s feed tokens are heard again, or None when they are heard now."""
    try:
        failures, milliseconds = _redis().pipeline().get(_token_key(client)).pttl(_token_key(client)).execute()
    except redis.RedisError as exc:
        _fail_open("the feed token lockout", exc)
        return None
    _answered()
    if failures is None or int(failures) < settings.AXES_FAILURE_LIMIT or milliseconds <= 0:
        return None
    return math.ceil(milliseconds / 1000)


def count_wrong_token(client: str | None) -> int | None:
    """Count a wrong feed token from `client`: the seconds of its lockout when this one reached the limit, else None."""
    cool_off = settings.AXES_COOLOFF_TIME.total_seconds()
    key = _token_key(client)
    try:
        failures, _ = _redis().pipeline().incr(key).pexpire(key, math.ceil(cool_off * 1000)).execute()
    except redis.RedisError as exc:
        _fail_open("the feed token lockout", exc)
        return None
    _answered()
    return math.ceil(cool_off) if failures >= settings.AXES_FAILURE_LIMIT else None


def rate_limited(client: str | None) -> int | None:
    """Take one of `client`'s API requests (API_RATE_LIMIT_PER_MINUTE): None when it may go on, else seconds to wait."""
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    if not limit:
        return None
    interval = 60 / limit
    try:
        wait = float(_gcra()(keys=[_key("rate", client)], args=[interval, 60 - interval]))
    except redis.RedisError as exc:
        _fail_open("the API rate limit", exc)
        return None
    _answered()
    return math.ceil(wait) if wait > 0 else None


def _token_key(client: str | None) -> str:
    return _key("token", client)


def _key(kind: str, client: str | None) -> str:
    return f"{settings.REDIS_PREFIX}:throttle:{kind}:{client or 'unknown'}"


def _redis() -> redis.Redis:
    return _connection(settings.REDIS_URL)


@cache
def _connection(url: str) -> redis.Redis:
    # One client per process and URL: its connection pool is shared by the threads sync views run in.
    return redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS)


def _gcra() -> Script:
    return _script(settings.REDIS_URL)


@cache
def _script(url: str) -> Script:
    return _connection(url).register_script(GCRA)


# Whether this process's last Redis call failed: every request of an outage would log otherwise.
_in_outage = False


def _fail_open(what: str, exc: Exception) -> None:
    global _in_outage
    if not _in_outage:
        _in_outage = True
        logger.warning("%s is not enforced while Redis is unavailable: %s", what, exc)


def _answered() -> None:
    global _in_outage
    if _in_outage:
        _in_outage = False
        logger.info("the API throttles are enforced again: Redis answers")
