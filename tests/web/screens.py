"""Screenshots for docs/screenshots/, taken only with ADAL_SCREENSHOTS=1 (a PNG nobody looks at
costs the suite seconds and proves nothing). Used by the app's and the console's `shot` fixtures."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from server.config import PROJECT_ROOT

SCREENSHOTS = Path(PROJECT_ROOT) / "docs" / "screenshots"


def screenshot_taker(prefix: str = "") -> Callable[..., Path | None]:
    """take(page, name, full_page=False): docs/screenshots/<prefix><name>.png, or nothing."""
    wanted = os.environ.get("ADAL_SCREENSHOTS") == "1"

    def take(page, name: str, *, full_page: bool = False) -> Path | None:
        if not wanted:
            return None
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{prefix}{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        return path
    return take
