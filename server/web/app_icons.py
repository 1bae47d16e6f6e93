"""The app's icons and the site's favicon, drawn with Pillow. Run once; the files are committed:

    .venv/bin/python -m server.web.app_icons

writes server/web/static/app/icons/: icon-192.png and icon-512.png (purpose "any": a rounded
square in the app's accent colour with a white note sheet and a check mark), icon-maskable-192.png
and icon-maskable-512.png (purpose "maskable": the same mark, smaller, on a full-bleed square so
that any mask shape keeps it whole) and favicon.ico (16, 32 and 48 px of the "any" icon). The mark
is a note with a check on purpose: the installed app is called "Notes" (docs/inspector-app.md,
"Discreet and accessible"), so nothing on the home screen says "inspection".

Everything is drawn four times larger and scaled down, for smooth edges. Not used at run time.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ICON_DIR = Path(__file__).parent / "static" / "app" / "icons"
ACCENT = (0x1F, 0x3A, 0x5F, 255)   # --accent in static/app/app.css
SHEET = (255, 255, 255, 255)
LINE = (0xC9, 0xD4, 0xE3, 255)     # a pale accent for the sheet's ruled lines
SCALE = 4
FILES = {"icon-192.png": (192, False), "icon-512.png": (512, False),
         "icon-maskable-192.png": (192, True), "icon-maskable-512.png": (512, True)}
FAVICON_SIZES = (16, 32, 48)


def draw_icon(size: int, *, maskable: bool) -> Image.Image:
    """The mark at `size` px square (RGBA)."""
    big = size * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:  # full bleed; the mark stays inside the 80 % safe circle
        draw.rectangle((0, 0, big, big), fill=ACCENT)
        sheet_w, sheet_h = 0.40, 0.50
    else:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=round(big * 0.22), fill=ACCENT)
        sheet_w, sheet_h = 0.54, 0.66
    left, top = big * (1 - sheet_w) / 2, big * (1 - sheet_h) / 2
    right, bottom = big - left, big - top
    w, h = right - left, bottom - top
    draw.rounded_rectangle((left, top, right, bottom), radius=round(w * 0.12), fill=SHEET)
    if size >= 32:  # ruled lines: lost in a 16 px favicon
        for i in range(3):
            y = top + h * (0.18 + 0.11 * i)
            draw.line((left + w * 0.18, y, right - w * 0.18, y), fill=LINE,
                      width=max(SCALE, round(h * 0.045)))
    stroke = max(2 * SCALE, round(w * (0.13 if size >= 32 else 0.18)))
    check = [(left + w * 0.22, top + h * 0.68), (left + w * 0.42, top + h * 0.84),
             (left + w * 0.80, top + h * 0.50)]
    draw.line(check, fill=ACCENT, width=stroke, joint="curve")
    for x, y in (check[0], check[-1]):  # round ends
        r = stroke / 2
        draw.ellipse((x - r, y - r, x + r, y + r), fill=ACCENT)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def write_icons(folder: Path = ICON_DIR) -> list[Path]:
    """Write every icon and the favicon into `folder`; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (size, maskable) in FILES.items():
        path = folder / name
        draw_icon(size, maskable=maskable).save(path, optimize=True)
        written.append(path)
    favicon = folder / "favicon.ico"
    largest = max(FAVICON_SIZES)
    frames = [draw_icon(s, maskable=False) for s in FAVICON_SIZES]
    frames[-1].save(favicon, format="ICO", sizes=[(s, s) for s in FAVICON_SIZES],
                    append_images=frames[:-1])
    assert frames[-1].size == (largest, largest)
    written.append(favicon)
    return written


if __name__ == "__main__":
    for written_path in write_icons():
        print(written_path)
