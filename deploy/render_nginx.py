"""Fill in deploy/nginx-htttbc.conf.template and print the nginx site.

    .venv/bin/python deploy/render_nginx.py [--listen 80] [--upstream 127.0.0.1:8000]
        [--server-name _] [--app-dir /opt/htttbc] > /etc/nginx/sites-available/htttbc

Flask-AppBuilder's static folder is found in the environment running this script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "nginx-htttbc.conf.template"


def render(listen: str, upstream: str, server_name: str, app_dir: str,
           fab_static: str | None = None) -> str:
    if fab_static is None:
        import flask_appbuilder

        fab_static = str(Path(flask_appbuilder.__file__).resolve().parent / "static" / "appbuilder")
    text = TEMPLATE.read_text()
    for key, value in {"LISTEN": listen, "UPSTREAM": upstream, "SERVER_NAME": server_name,
                       "APP_DIR": app_dir.rstrip("/"), "FAB_STATIC": fab_static.rstrip("/")}.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="80")
    parser.add_argument("--upstream", default="127.0.0.1:8000")
    parser.add_argument("--server-name", default="_")
    parser.add_argument("--app-dir", default=str(HERE.parent))
    args = parser.parse_args(argv)
    sys.stdout.write(render(args.listen, args.upstream, args.server_name, args.app_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
