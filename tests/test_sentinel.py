"""Sentinel URLs (kombu's format): parsed for the store, and a real Sentinel in front of a
real Redis serving the store and the broker."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kombu.connection import Connection

from tests.faults import own_redis_server
from worker.errors import ConfigurationError
from worker.net import free_port
from worker.notices.connection import connect
from worker.runtime.celery_app import celery_config
from worker.runtime.transport import SentinelTransport
from worker.settings import from_env
from worker.settings.sentinel import parse_sentinel_url

MASTER = "pdnmaster"


def test_sentinel_url_names_every_sentinel_the_database_and_the_password() -> None:
    target = parse_sentinel_url("sentinel://:s%40cret@h1:26379;sentinel://h2:26380/3")
    assert target.sentinels == (("h1", 26379), ("h2", 26380))
    assert target.db == 3 and target.password == "s@cret" and target.username is None


def test_sentinel_url_defaults_to_port_26379_and_database_0() -> None:
    target = parse_sentinel_url("sentinel://h1")
    assert target.sentinels == (("h1", 26379),) and target.db == 0


@pytest.mark.parametrize(
    "url",
    ["sentinel://h1:26379;redis://h2:6379/0", "sentinel://h1:99999/0", "sentinel://h1/x"],
)
def test_sentinel_url_refused_with_a_reason_at_start(url: str) -> None:
    with pytest.raises(ConfigurationError, match="REDIS_URL"):
        from_env({"SECRET_KEY": "k" * 32, "REDIS_URL": url})


def test_sentinel_broker_gets_our_transport_and_the_master_name() -> None:
    settings = from_env(
        {
            "SECRET_KEY": "k" * 32,
            "REDIS_URL": "sentinel://h1:26379;sentinel://h2:26379/0",
            "REDIS_SENTINEL_MASTER": MASTER,
        }
    )
    config = celery_config(settings)
    assert config["broker_transport"] == "worker.runtime.transport:SentinelTransport"
    assert config["broker_transport_options"]["master_name"] == MASTER


@pytest.fixture
def sentinel_url(tmp_path: Path) -> Iterator[str]:
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not on PATH")
    master = own_redis_server(tmp_path / "master")
    port = free_port()
    conf = tmp_path / "sentinel.conf"  # Sentinel rewrites its file: it must be its own
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor {MASTER} 127.0.0.1 {master.port} 1\n"
    )
    proc = subprocess.Popen(
        ["redis-server", str(conf), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        probe = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                if probe.sentinel_get_master_addr_by_name(MASTER):
                    break
            except redis.RedisError:
                pass
            assert time.monotonic() < deadline, "the Sentinel did not come up"
            time.sleep(0.05)
        # Two segments, the first pointing nowhere: the client asks the next Sentinel.
        yield f"sentinel://127.0.0.1:{free_port()};sentinel://127.0.0.1:{port}/2"
    finally:
        proc.terminate()
        proc.wait(10)
        master.stop()


def test_sentinel_store_reaches_the_master_it_names(sentinel_url: str) -> None:
    client = connect(sentinel_url, MASTER)
    client.set("pdn:probe", "1")
    assert client.get("pdn:probe") == "1"
    port = int(client.connection_pool.get_master_address()[1])
    # Written to database 2 of the master the Sentinel knows, nowhere else.
    assert redis.Redis(port=port, db=2).get("pdn:probe") == b"1"


def test_sentinel_broker_carries_a_message(sentinel_url: str) -> None:
    options = {"master_name": MASTER}
    with Connection(sentinel_url, transport=SentinelTransport, transport_options=options) as c:
        queue = c.SimpleQueue("pdn-sentinel-probe")
        queue.put({"hello": "sentinel"})
        message = queue.get(timeout=5)
        assert message.payload == {"hello": "sentinel"}
        message.ack()
        queue.close()
