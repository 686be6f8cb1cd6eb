"""The provider rate limit: an in-process token bucket, and the Redis one shared by threads and
processes (real Redis at HERALD_TEST_REDIS_URL, a unique key per test)."""

from __future__ import annotations

import multiprocessing
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from herald.channels.ratelimit import LocalBucket, RedisBucket, Unlimited, limiter_for
from herald.core.settings import ConfigError, Settings
from tests.conftest import REDIS_URL


def settings(tmp_path: Path, **env: str) -> Settings:
    base = {"HERALD_INSTANCE_PATH": str(tmp_path), "HERALD_SECRET_KEY": "k"}
    return Settings.from_env({**base, **env})


def take_for(bucket: LocalBucket | RedisBucket, seconds: float) -> list[float]:
    stamps = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if bucket.acquire(max_wait=end - time.monotonic()):
            stamps.append(time.monotonic())
    return stamps


def test_rate_zero_or_unset_is_unlimited(tmp_path):
    assert isinstance(limiter_for(settings(tmp_path), "email"), Unlimited)
    assert isinstance(limiter_for(settings(tmp_path, HERALD_EMAIL_RATE="0"), "email"), Unlimited)


def test_a_malformed_rate_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="HERALD_SMS_RATE"):
        limiter_for(settings(tmp_path, HERALD_SMS_RATE="fast"), "sms")


def test_without_redis_each_process_gets_a_local_bucket(tmp_path):
    limiter = limiter_for(settings(tmp_path, HERALD_EMAIL_RATE="20"), "email")
    assert isinstance(limiter, LocalBucket) and limiter.rate == 20


def test_the_local_bucket_holds_threads_to_the_rate():
    bucket = LocalBucket(rate=50)
    counts: list[int] = []

    def worker() -> None:
        counts.append(len(take_for(bucket, 1.0)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # one second of burst plus one second at the rate
    assert 80 <= sum(counts) <= 102


def test_acquire_gives_up_after_max_wait():
    bucket = LocalBucket(rate=1)
    assert bucket.acquire()
    started = time.monotonic()
    assert bucket.acquire(max_wait=0.2) is False
    assert 0.15 <= time.monotonic() - started < 0.5


@pytest.fixture
def redis_key() -> str:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is needed (HERALD_TEST_REDIS_URL): {exc}")
    key = f"herald-test:{secrets.token_hex(6)}:rate:email"
    yield key
    client.delete(key)


def _redis_bucket(key: str, rate: float) -> RedisBucket:
    import redis

    return RedisBucket(redis.Redis.from_url(REDIS_URL), key, rate)


def _stamps_in_process(key: str, rate: float, seconds: float, out: Any) -> None:
    out.put(wall_stamps(_redis_bucket(key, rate), seconds))


def wall_stamps(bucket: RedisBucket, seconds: float) -> list[float]:
    """Wall-clock times of the tokens taken (comparable across processes)."""
    offset = time.time() - time.monotonic()
    return [offset + stamp for stamp in take_for(bucket, seconds)]


def worst_excess(stamps: list[float], rate: float, burst: float) -> float:
    """The most tokens any time window saw beyond what a bucket allows: burst + rate × width."""
    stamps = sorted(stamps)
    return max(
        (j - i + 1) - (burst + rate * (stamps[j] - stamps[i]))
        for i in range(len(stamps))
        for j in range(i, len(stamps))
    )


@pytest.mark.redis
def test_the_redis_bucket_is_shared_by_threads_and_processes(redis_key):
    rate = 40.0
    seconds = 1.5
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [
        context.Process(target=_stamps_in_process, args=(redis_key, rate, seconds + 1.0, queue))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    time.sleep(0.5)  # spawned interpreters start meanwhile, then share the bucket with us
    per_thread: list[list[float]] = []

    def worker() -> None:
        per_thread.append(wall_stamps(_redis_bucket(redis_key, rate), seconds))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    per_process = [queue.get(timeout=15) for _ in processes]
    for process in processes:
        process.join(timeout=10)
    everyone = [stamp for stamps in per_thread + per_process for stamp in stamps]
    assert all(per_thread) and all(per_process)  # every participant got tokens
    # four takers, one bucket: no window ever saw more than burst + rate × its width
    # (a few tokens of slack: a taker stamps its token a moment after Redis granted it; four
    # separate buckets would exceed it by ~100)
    assert worst_excess(everyone, rate, burst=rate) <= 3
    # and the bucket was not starved: over the threads' 1.5 s the four together took ~the rate
    assert len(everyone) >= rate * seconds


@pytest.mark.redis
def test_the_redis_bucket_is_used_when_redis_is_configured(tmp_path, redis_key):
    limiter = limiter_for(
        settings(tmp_path, HERALD_EMAIL_RATE="5", HERALD_REDIS_URL=REDIS_URL),
        "email",
        prefix=redis_key.removesuffix("email"),
    )
    assert isinstance(limiter, RedisBucket) and limiter.key == redis_key
    taken = sum(limiter.acquire(max_wait=0) for _ in range(20))
    assert taken == 5  # the burst; the rest wait


@pytest.mark.redis
def test_the_redis_bucket_takes_tokens_for_a_chunk_in_one_call_and_keeps_the_rate(
    tmp_path, redis_key
):
    limiter = limiter_for(
        settings(tmp_path, HERALD_EMAIL_RATE="400", HERALD_REDIS_URL=REDIS_URL),
        "email",
        prefix=redis_key.removesuffix("email"),
    )
    assert isinstance(limiter, RedisBucket) and limiter.reserve == 20
    calls = []
    script = limiter._script

    def counted(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return script(**kwargs)

    limiter._script = counted  # type: ignore[method-assign]
    start = time.monotonic()
    stamps = [limiter.acquire() and time.monotonic() for _ in range(800)]
    elapsed = time.monotonic() - start
    assert all(stamps)
    # the burst (400) goes at once, the rest at the rate: ~1 s for the second 400
    assert elapsed >= 0.8
    assert worst_excess(stamps, 400, burst=400) <= limiter.reserve
    # far fewer round trips than tokens (one per message before)
    assert len(calls) < 800 / 4
