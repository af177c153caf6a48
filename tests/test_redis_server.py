"""The throwaway Redis server of the test session: a clean database per test, restartable."""

from __future__ import annotations

import redis

from tests.support.redis import RedisServer, ping


def test_each_test_gets_an_empty_database(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.dbsize() == 0
        client.set("left:behind", "by this test")
    finally:
        client.close()


def test_the_next_test_does_not_see_it(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.get("left:behind") is None
        # Nothing is persisted: no RDB snapshots, no append-only file.
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
    finally:
        client.close()


def test_restart_comes_back_empty_on_the_same_port(redis_server: RedisServer,
                                                   redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        client.set("before", "restart")
        port = redis_server.port
        redis_server.restart()
        assert redis_server.port == port and ping(port)
        # The client reconnects by itself; the data is gone.
        assert client.get("before") is None
    finally:
        client.close()
