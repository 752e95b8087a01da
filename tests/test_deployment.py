"""The documented deployment runs (docs/deployment.md): on a fresh PostgreSQL database,
`run.py prepare`, one scheduler process, gunicorn with deploy/gunicorn.conf.py and several
workers, and nginx with the rendered site config in front when nginx is installed (`make test`
installs Debian's nginx-light). Everything on loopback ports chosen free, stopped at the end."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import _postgres_database

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, *, status: int = 200, seconds: float = 90) -> requests.Response:
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            last = requests.get(url, timeout=20)
            if last.status_code == status:
                return last
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer {status} in {seconds} s (last: "
                         f"{getattr(last, 'status_code', None)} {getattr(last, 'text', '')[:500]})")


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)


def nginx_config(tmp: Path, site: str) -> Path:
    """A main nginx.conf of our own (pid, logs and temp files in tmp) including the site."""
    (tmp / "site.conf").write_text(site)
    for folder in ("logs", "client_body", "proxy"):
        (tmp / folder).mkdir(exist_ok=True)
    main = tmp / "nginx.conf"
    # workers run as the user running the tests: a root master would hand them to nobody, who
    # cannot read the static files of a checkout in a private folder (mktemp -d is 0700)
    main.write_text(f"""
user {getpass.getuser()};
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {tmp}/logs/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    include {tmp}/site.conf;
}}
""")
    return main


@pytest.fixture
def postgres_url(request):
    return _postgres_database(request)


def test_gunicorn_workers_a_scheduler_and_nginx_as_documented(postgres_url, tmp_path):
    from deploy.render_nginx import render

    app_port, nginx_port = free_port(), free_port()
    env = dict(
        os.environ,
        DATABASE_URL=postgres_url,
        SECRET_KEY="deploy-test-" + "x" * 40,
        HTTTBC_INSTANCE_DIR=str(tmp_path / "instance"),
        HTTTBC_NO_DEMO="1",
        GUNICORN_BIND=f"127.0.0.1:{app_port}",
        GUNICORN_WORKERS="3",
        GUNICORN_ACCESS_LOG=str(tmp_path / "access.log"),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
        TRUSTED_PROXIES="1",
        HEALTH_DISK_MIN_FREE_MB="1",
        # the one-shot probe runs at once: the heartbeat is there without waiting 2 minutes
        HTTTBC_SCHEDULER_JOBS="probe,send_outbox",
        HTTTBC_SCHEDULER_POLL="1",
    )
    prepared = subprocess.run([sys.executable, "run.py", "prepare"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
    assert prepared.returncode == 0, prepared.stderr[-3000:]

    processes: list[subprocess.Popen] = []
    logs = tmp_path / "logs"
    logs.mkdir()

    def start(name: str, command: list[str]) -> subprocess.Popen:
        out = open(logs / f"{name}.log", "w")  # noqa: SIM115  (closed with the process)
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    try:
        # before the scheduler has run: the app serves, /health says what is missing
        gunicorn = start("gunicorn", [str(VENV_BIN / "gunicorn"), "-c",
                                      str(ROOT / "deploy" / "gunicorn.conf.py")])
        base = f"http://127.0.0.1:{app_port}"
        early = wait_for(f"{base}/health", status=503)
        assert early.json()["checks"]["database"]["ok"] is True
        assert early.json()["checks"]["scheduler"]["ok"] is False

        start("scheduler", [sys.executable, "run.py", "scheduler"])
        body = wait_for(f"{base}/health").json()
        assert body["status"] == "ok"
        assert body["checks"]["database"]["dialect"] == "postgresql"
        assert body["checks"]["scheduler"]["lock_held"] is True

        login = requests.get(f"{base}/login/", timeout=10)
        assert login.status_code == 200 and "Đăng nhập" in login.text
        for _ in range(12):  # spread over the workers
            assert requests.get(f"{base}/health", timeout=10).status_code == 200

        # several workers answered, and /metrics adds up all of them
        pids = {line.split()[-1] for line in (logs / "gunicorn.log").read_text().splitlines()
                if "Booting worker with pid" in line}
        assert len(pids) == 3, (logs / "gunicorn.log").read_text()
        metrics = requests.get(f"{base}/metrics", timeout=10)
        assert metrics.status_code == 200
        counted = sum(
            float(line.rsplit(" ", 1)[1]) for line in metrics.text.splitlines()
            if line.startswith("htttbc_http_requests_total{")
            and 'endpoint="observability.health_view"' in line and 'status="200"' in line)
        assert counted >= 13
        assert "htttbc_reports_sent_last_hour 0.0" in metrics.text

        nginx = nginx_binary()
        if nginx is None:
            pytest.skip("nginx chưa được cài (make test cài nginx-light): phần nginx bỏ qua")
        site = render(listen=f"127.0.0.1:{nginx_port}", upstream=f"127.0.0.1:{app_port}",
                      server_name="localhost", app_dir=str(ROOT))
        (tmp_path / "nginx").mkdir()
        config = nginx_config(tmp_path / "nginx", site)
        checked = subprocess.run([nginx, "-t", "-c", str(config), "-p", str(tmp_path / "nginx")],
                                 capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
        start("nginx", [nginx, "-c", str(config), "-p", str(tmp_path / "nginx"),
                        "-g", "daemon off;"])
        front = f"http://127.0.0.1:{nginx_port}"
        assert wait_for(f"{front}/health").json()["status"] == "ok"
        page = requests.get(f"{front}/login/", timeout=10)
        assert page.status_code == 200 and "Đăng nhập" in page.text
        # static files come from disk: nginx's own headers, no request reaches gunicorn
        before = (tmp_path / "access.log").read_text().count("/static/")
        css = requests.get(f"{front}/static/css/entry.css", timeout=10)
        fab = requests.get(f"{front}/static/appbuilder/css/ab.css", timeout=10)
        assert css.status_code == 200 and fab.status_code == 200
        assert "max-age=604800" in css.headers.get("Cache-Control", "")
        assert (tmp_path / "access.log").read_text().count("/static/") == before
        # not published through nginx
        assert requests.get(f"{front}/metrics", timeout=10).status_code == 403
        # an upload larger than client_max_body_size is refused by nginx
        big = requests.post(f"{front}/login/", data=b"x" * (51 * 1024 * 1024), timeout=30)
        assert big.status_code == 413
        assert gunicorn.poll() is None
    finally:
        for process in reversed(processes):
            stop(process)
