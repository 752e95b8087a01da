"""A private folder for uploads kept between the steps of a flow (dry run → confirm,
preview → publish), named by a random token and swept after a day."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

MAX_AGE_SECONDS = 24 * 3600


def private_folder(name: str) -> Path:
    folder = Path(tempfile.gettempdir()) / name
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def sweep(folder: Path, max_age: int = MAX_AGE_SECONDS) -> None:
    """Remove what has been lying there longer than ``max_age`` seconds."""
    now = time.time()
    for item in folder.iterdir():
        try:
            if now - item.stat().st_mtime > max_age:
                item.unlink()
        except OSError:
            pass
