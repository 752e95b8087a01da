"""gunicorn settings of the web process (docs/deployment.md):

    .venv/bin/gunicorn -c deploy/gunicorn.conf.py

Everything machine-specific comes from the environment (the systemd unit reads
/etc/htttbc/htttbc.env): GUNICORN_BIND (127.0.0.1:8000, nginx in front), GUNICORN_WORKERS
(2 × cores + 1 by default, at most 9), GUNICORN_TIMEOUT, and PROMETHEUS_MULTIPROC_DIR: a folder
of its own where each worker writes its request counters, so that /metrics adds up every
worker's (emptied when gunicorn starts; a dead worker's files are marked).

The scheduler is not started here: it is a process of its own (`python run.py scheduler`,
deploy/systemd/htttbc-scheduler.service); the schema is upgraded before start by
`python run.py prepare`.
"""

import multiprocessing
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

chdir = str(ROOT)
wsgi_app = "app:create_app()"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS") or min(2 * multiprocessing.cpu_count() + 1, 9))
worker_class = "sync"  # nginx buffers slow clients; one request per worker at a time
# long enough for the largest exports and PDF renders; nginx's proxy_read_timeout is longer
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
# a worker is replaced after this many requests (bounded memory over months of uptime)
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# the app is built in each worker after the fork: no database connection is shared
preload_app = False
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
forwarded_allow_ips = "127.0.0.1"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
proc_name = "htttbc-web"


def on_starting(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:  # counters of an earlier run must not be added to this one's
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
