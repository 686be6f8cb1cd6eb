"""A token bucket per channel provider: messages per second, shared across workers.

``HERALD_<PROVIDER>_RATE`` (e.g. ``HERALD_EMAIL_RATE=50``, ``HERALD_SMS_RATE=10``; ``0`` or unset
means unlimited) sets the rate; the bucket holds one second of burst. With ``HERALD_REDIS_URL``
the bucket lives in Redis and is updated by one Lua script (atomic, on Redis's clock), so every
worker process draws from the same bucket; without it each process has its own. Channels call
:meth:`acquire` before each hand-off; it sleeps until a token is free, up to a bound. The
Redis bucket takes tokens for a chunk of messages in one call (``RESERVE_SECONDS`` of the rate).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from herald.core.settings import Settings, provider_rate

log = logging.getLogger(__name__)

DEFAULT_MAX_WAIT = 30.0

_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(v[1]) or burst
local ts = tonumber(v[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local want = tonumber(ARGV[3] or '1')
local granted = math.min(want, math.floor(tokens))
local wait = 0
-- none free: wait for the whole chunk, so the next call takes it at once
if granted >= 1 then tokens = tokens - granted else granted = 0; wait = (want - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {granted, tostring(wait)}
"""
# how long tokens taken ahead may wait in a process before they are dropped: short, so the
# shared bucket's bound holds within a few tokens even with several takers
RESERVE_SECONDS = 0.05


class Limiter(Protocol):
    """What channels use."""

    rate: float

    def acquire(self, max_wait: float = DEFAULT_MAX_WAIT) -> bool:
        """Take one token, sleeping while none is free; ``False`` after ``max_wait`` seconds."""
        ...


class Unlimited:
    """Rate 0: never waits."""

    rate = 0.0

    def acquire(self, max_wait: float = DEFAULT_MAX_WAIT) -> bool:
        return True


class _Bucket:
    """The waiting loop shared by both buckets; subclasses answer "seconds until a token"."""

    rate: float

    def _take(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def acquire(self, max_wait: float = DEFAULT_MAX_WAIT) -> bool:
        deadline = time.monotonic() + max_wait
        while True:
            wait = self._take()
            if wait <= 0:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(wait, left, 1.0))


class LocalBucket(_Bucket):
    """A bucket in this process, safe across threads."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def _take(self) -> float:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate


class RedisBucket(_Bucket):
    """A bucket in Redis shared by every process using the same key. If Redis is unreachable
    the process falls back to its own bucket rather than stopping the send.

    With ``reserve`` above 1 one round trip takes up to that many tokens, kept in this process
    for at most :data:`RESERVE_SECONDS` (then dropped, never returned): a chunk of messages
    costs one Redis call instead of one per message."""

    def __init__(
        self,
        client: Any,
        key: str,
        rate: float,
        burst: float | None = None,
        reserve: int = 1,
    ) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.key = key
        self.reserve = max(1, min(reserve, int(self.burst)))
        self._script = client.register_script(_TAKE)
        self._fallback = LocalBucket(rate, self.burst)
        self._held = 0
        self._held_until = 0.0
        self._lock = threading.Lock()

    def _take(self) -> float:
        with self._lock:
            now = time.monotonic()
            if self._held > 0 and now < self._held_until:
                self._held -= 1
                return 0.0
            self._held = 0
            try:
                granted, wait = self._script(
                    keys=[self.key], args=[self.rate, self.burst, self.reserve]
                )
            except Exception as exc:  # redis.RedisError, OSError: keep sending, at the local rate
                log.warning("rate bucket %s unreachable, using a local one: %s", self.key, exc)
                return self._fallback._take()
            if int(granted) >= 1:
                self._held, self._held_until = int(granted) - 1, now + RESERVE_SECONDS
                return 0.0
            return float(wait)


def limiter_for(settings: Settings, provider: str, prefix: str = "herald:rate:") -> Limiter:
    """The limiter for ``provider`` (``email``, ``sms``…) as configured."""
    rate = provider_rate(settings, provider)
    if rate == 0:
        return Unlimited()
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
        reserve = max(1, int(rate * RESERVE_SECONDS))  # e.g. 25 tokens a call at 500/s
        return RedisBucket(client, f"{prefix}{provider}", rate, reserve=reserve)
    return LocalBucket(rate)
