"""Temporary files that a killed process leaves behind, and their removal by `adal media sweep`.

A worker killed while storing (SIGKILL, the OOM killer, a power cut) can leave a `.tmp-*` file
next to where an object was going in the local media store, a `.tmp-*.copy` in the spool, and a
`.work-*` folder of derivatives in the spool. None of them is evidence: the object is only
stored once renamed into place, and the upload they belonged to is still resumable. They are
removed once nothing has touched them for STALE_SECONDS, so a store still in progress in another
process is never pulled from under it.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from . import service
from .storage import LocalStorage

STALE_SECONDS = 3600


def _newest_mtime(path: Path) -> float:
    newest = path.lstat().st_mtime
    if path.is_dir():
        for dirpath, _dirs, files in os.walk(path):
            for name in files:
                try:
                    newest = max(newest, (Path(dirpath) / name).lstat().st_mtime)
                except FileNotFoundError:
                    pass
    return newest


def stale_temporaries(*, now: float | None = None) -> list[Path]:
    """`.tmp-*` files and `.work-*` folders in the spool and the local media stores, untouched
    for STALE_SECONDS."""
    cutoff = (now or time.time()) - STALE_SECONDS
    roots = {service.spool_dir().resolve()}
    roots |= {s.root for s in service.storages().values() if isinstance(s, LocalStorage)}
    found = set()
    for root in roots:
        for dirpath, dirs, files in os.walk(root):
            here = Path(dirpath)
            work = [d for d in dirs if d.startswith(".work-")]
            dirs[:] = [d for d in dirs if not d.startswith(".work-")]
            candidates = [here / d for d in work]
            candidates += [here / f for f in files if f.startswith(".tmp-")]
            for path in candidates:
                try:
                    if _newest_mtime(path) < cutoff:
                        found.add(path)
                except FileNotFoundError:
                    pass
    return sorted(found)


def remove(paths: list[Path]) -> int:
    """Remove these files and folders; the bytes freed."""
    freed = 0
    for path in paths:
        try:
            if path.is_dir():
                freed += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
                shutil.rmtree(path, ignore_errors=True)
            else:
                freed += path.stat().st_size
                path.unlink(missing_ok=True)
        except FileNotFoundError:
            pass
    return freed
