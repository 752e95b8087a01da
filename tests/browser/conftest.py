"""Browser tests: headless Chromium (Debian's, driven by Playwright) against the real server.

One server for the whole session: `python run.py serve` on a free port with its own instance
folder and SQLite database, so the first start migrates and loads the demo province exactly as
`make run` does. Chromium comes from Debian (`make chromium`); Playwright's own browser download
is never used. Without Chromium the tests skip here and fail in CI (CI set).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 768}
SERVER_START_TIMEOUT = float(os.environ.get("BROWSER_SERVER_TIMEOUT", "120"))
_server_log: Path | None = None
_server_instance: Path | None = None


def _compile_catalogs() -> None:
    spec = importlib.util.spec_from_file_location(
        "update_catalogs", ROOT / "app" / "translations" / "update_catalogs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.compile_stale()


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_output(limit: int = 20000) -> str:
    if _server_log is None or not _server_log.exists():
        return ""
    return _server_log.read_text(errors="replace")[-limit:]


@pytest.fixture(scope="session")
def chromium_browser():
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"Không có Chromium tại {CHROMIUM} (cài bằng `make chromium`)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        _unavailable(f"Chưa cài Playwright: {error}")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
    except Exception as error:
        playwright.stop()
        _unavailable(f"Không khởi động được Chromium: {error}")
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """Base URL of the real server, started once: `python run.py serve`."""
    global _server_log, _server_instance
    _compile_catalogs()
    folder = tmp_path_factory.mktemp("browser_server")
    _server_instance = folder / "instance"
    port = _free_port()
    env = dict(os.environ)
    env.update(
        PORT=str(port),
        HOST="127.0.0.1",
        HTTTBC_INSTANCE_DIR=str(folder / "instance"),
        DATABASE_URL=f"sqlite:///{folder / 'browser.sqlite'}",
        PYTHONUNBUFFERED="1",
    )
    env.pop("HTTTBC_NO_DEMO", None)
    env.pop("SECRET_KEY", None)
    _server_log = folder / "server.log"
    log = _server_log.open("w")
    process = subprocess.Popen(
        [sys.executable, "run.py", "serve"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"Máy chủ dừng khi khởi động (mã {process.returncode}):\n{_server_output()}",
                    pytrace=False,
                )
            try:
                with urllib.request.urlopen(f"{base_url}/login/", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"Máy chủ không trả lời {base_url}/login/ sau {SERVER_START_TIMEOUT:.0f} giây:\n"
                    f"{_server_output()}",
                    pytrace=False,
                )
            time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def server_instance(live_server) -> Path:
    """The instance folder of the live server (the demo's stand-in signing keys are there)."""
    return _server_instance


@pytest.fixture
def page(chromium_browser, live_server):
    context = chromium_browser.new_context(
        base_url=live_server, viewport=VIEWPORT, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh"
    )
    context.set_default_timeout(15000)
    browser_page = context.new_page()
    yield browser_page
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and item.get_closest_marker("browser") and _server_output():
        report.sections.append(("server output", _server_output(8000)))
    return report
