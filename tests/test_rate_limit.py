"""The login rate limit as deployed: several gunicorn workers are several processes, so the
counters must live in Redis (RATELIMIT_STORAGE_URI); with memory:// each worker counts alone.
Two app instances stand for two workers. Needs Debian's redis-server (`make test` installs it)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from tests.conftest import build_app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if shutil.os.path.exists("/usr/bin/redis-server") else None)
    if binary is None:
        pytest.skip("redis-server chưa được cài (make test cài redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


def workers(tmp_path, storage: str):
    url = f"sqlite:///{tmp_path / 'limit.sqlite'}"
    first = build_app(url)
    settings = {"AUTH_RATE_LIMITED": True, "RATELIMIT_ENABLED": True,
                "AUTH_RATE_LIMIT": "4 per 60 second", "RATELIMIT_STORAGE_URI": storage}
    from app import create_app

    return [create_app({**dict(first.config), **settings}) for _ in range(2)]


def failed_logins(apps, count: int) -> list[int]:
    codes = []
    for number in range(count):
        client = apps[number % len(apps)].test_client()
        codes.append(client.post("/login/", data={"username": "khong-co",
                                                  "password": "sai"}).status_code)
    return codes


def test_workers_share_the_login_limit_through_redis(tmp_path, redis_url):
    codes = failed_logins(workers(tmp_path, redis_url), 6)
    assert 429 not in codes[:4] and codes[4:] == [429, 429], codes


def test_with_memory_storage_each_worker_counts_alone(tmp_path):
    codes = failed_logins(workers(tmp_path, "memory://"), 6)
    assert 429 not in codes, codes  # 3 attempts per worker: under each one's limit of 4
