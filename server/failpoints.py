"""Named failpoints: places in the code where a fault test can make a process fail on purpose.

Never active unless the environment variable ADAL_FAILPOINTS_FILE names a file, so a production
process pays one dictionary look-up per point passed. The file is read at every hit, so a test
can arm and disarm points in a running server (another process) by rewriting it. One point a
line, `name=action`; blank lines and `#` comments are ignored:

    tus.spool_write=enospc        # OSError(ENOSPC), as from a full disk
    media.completion_stored=kill  # SIGKILL this process, as the OOM killer or a power cut would
    media.completion_stored=block # wait (at most 60 s) while this line is still in the file
    local.save_written=error      # RuntimeError("failpoint ..."): any other word

The points (grep for `failpoints.hit`): `tus.spool_write` before each block of a PATCH is written
to the spool; `media.completion_stored` after a completion stored the original (its
derivatives are a job after the commit), before the rows commit; `local.save_written` after the local store wrote a
temporary file, before it is renamed into place.
"""
from __future__ import annotations

import errno
import os
import signal
import time

ENV = "ADAL_FAILPOINTS_FILE"
BLOCK_LIMIT_SECONDS = 60.0


def _armed(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return {}
    points = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            name, action = line.split("=", 1)
            points[name.strip()] = action.strip()
    return points


def hit(name: str) -> None:
    """Fail here as the failpoints file says, if it names this point; otherwise nothing."""
    path = os.environ.get(ENV)
    if not path:
        return
    action = _armed(path).get(name)
    if action is None:
        return
    if action == "enospc":
        raise OSError(errno.ENOSPC, f"No space left on device (failpoint {name})")
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "block":
        deadline = time.monotonic() + BLOCK_LIMIT_SECONDS
        while _armed(path).get(name) == "block" and time.monotonic() < deadline:
            time.sleep(0.02)
        return
    raise RuntimeError(f"failpoint {name}: {action}")
