"""What each figure is compared with, measured in the same run on the same machine and servers.

- INSERT+COMMIT: single-row inserts, each its own transaction (a durable commit), on one connection and
  on eight at once: the most the database can commit, the ceiling of any rate of moves.
- Redis round trip: PUBLISH on one connection until a subscriber on another has the message, one at a
  time: the floor under any push latency through the channel layer.
- The trivial view (the login page) on the same web server at the same number of clients as the API
  figure it stands beside: the floor under any request's latency, the ceiling of any request rate.
"""

from __future__ import annotations

import asyncio
import threading
import time

import psycopg
import redis.asyncio as aioredis

from . import load
from .stats import ms, per_second, percentile

TABLE = "bench_insert_commit"


def insert_commit_per_second(conninfo: str, connections: int, seconds: float) -> float | None:
    """Rows inserted and committed one by one per second, over `connections` connections for `seconds`."""
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, at timestamptz DEFAULT now(), "
                      "note text)")
    counts = [0] * connections
    failed: list[Exception] = []
    start = threading.Barrier(connections, timeout=30)

    def insert(slot: int) -> None:
        try:
            with psycopg.connect(conninfo, autocommit=True) as db:
                start.wait()
                deadline = time.perf_counter() + seconds
                while time.perf_counter() < deadline:
                    db.execute(f"INSERT INTO {TABLE} (note) VALUES (%s)", ["baseline"])
                    counts[slot] += 1
        except threading.BrokenBarrierError:
            pass  # another connection failed: the figure is not produced
        except psycopg.Error as error:  # e.g. the server has no connection left to give
            failed.append(error)
            start.abort()

    threads = [threading.Thread(target=insert, args=(slot,), daemon=True) for slot in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(f"DROP TABLE {TABLE}")
    return None if failed or start.broken else per_second(sum(counts), seconds)


async def redis_round_trip(url: str, count: int, channel: str) -> dict:
    """PUBLISH → subscriber delivery, one message at a time; p50 and p99 in ms."""
    publisher, subscriber = aioredis.Redis.from_url(url), aioredis.Redis.from_url(url)
    pubsub = subscriber.pubsub()
    await pubsub.subscribe(channel)
    await pubsub.get_message(timeout=5)  # the subscribe confirmation
    trips = []
    try:
        for number in range(count):
            started = time.perf_counter()
            await publisher.publish(channel, str(number))
            while True:
                message = await pubsub.get_message(timeout=5)
                if message is None:
                    break  # lost: it simply does not count
                if message["type"] == "message" and message["data"] == str(number).encode():
                    trips.append(time.perf_counter() - started)
                    break
    finally:
        await pubsub.unsubscribe(channel)
        await pubsub.aclose()
        await publisher.aclose()
        await subscriber.aclose()
    return {"count": len(trips), "p50_ms": ms(percentile(trips, 50)), "p99_ms": ms(percentile(trips, 99))}


async def trivial_view(base_url: str, clients: int, count: int) -> dict:
    """The login page, `count` GETs over `clients` keep-alive connections."""
    answers = await load.burst(base_url, load.login_page_request, count, clients)
    return answers.figures(ok=200)


def run(conninfo: str, redis_url: str, channel: str, base_url: str, *, seconds: float, round_trips: int,
        view_requests: int, client_counts: tuple[int, ...]) -> dict:
    """Every baseline; call outside an event loop."""
    figures = {
        "insert_commit_1_per_second": insert_commit_per_second(conninfo, 1, seconds),
        "insert_commit_8_per_second": insert_commit_per_second(conninfo, 8, seconds),
        "redis_round_trip": asyncio.run(redis_round_trip(redis_url, round_trips, channel)),
    }
    for clients in client_counts:
        figures[f"trivial_view_{clients}"] = asyncio.run(trivial_view(base_url, clients, view_requests))
    return figures
