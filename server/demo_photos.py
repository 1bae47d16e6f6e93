"""Demo photos, drawn at demo time with Pillow: a simple scene per photo question (a ramp at an
entrance, a door with a width marker, a queue screen, a fee board, ...) with a caption, written
as a JPEG with the EXIF a phone camera writes: Make/Model "Adal demo", DateTimeOriginal with
OffsetTimeOriginal, and a GPS position with its accuracy.

Pure: no Flask, no database. `server/demo.py` decides where and when each photo was "taken" and
stores it through the media service like an upload from the app, so EXIF reading, thumbnails,
previews and the photo flags are the real ones.
"""
from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from datetime import datetime, timezone

from PIL import Image, ImageDraw, ImageFont

SIZE = (1280, 960)
MAKE = MODEL = "Adal demo"
METRES_PER_DEGREE = 111_320.0

# EXIF tags (TIFF/EXIF 2.32 numbers), so the bytes need no lookup table to be read.
_MAKE, _MODEL, _ORIENTATION, _SOFTWARE, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0131, 0x0132
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED = 0x9003, 0x9004
_OFFSET_TIME, _OFFSET_TIME_ORIGINAL, _OFFSET_TIME_DIGITIZED = 0x9010, 0x9011, 0x9012
_GPS = {"version": 0x0000, "lat_ref": 0x0001, "lat": 0x0002, "lon_ref": 0x0003, "lon": 0x0004,
        "time": 0x0007, "datum": 0x0012, "date": 0x001D, "error": 0x001F}


@dataclass(frozen=True)
class Shot:
    """Where and when a demo photo was taken: an aware local time and a WGS 84 position."""
    taken: datetime
    lat: float
    lon: float
    accuracy_m: float = 8.0


def offset_position(lat: float, lon: float, metres: float,
                    bearing_deg: float) -> tuple[float, float]:
    """The point `metres` away from (lat, lon) towards `bearing_deg` (flat earth: fine for km)."""
    bearing = math.radians(bearing_deg)
    dlat = metres * math.cos(bearing) / METRES_PER_DEGREE
    dlon = metres * math.sin(bearing) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


# --- scenes ----------------------------------------------------------------------------------

SKY, WALL, GROUND = (196, 222, 240), (222, 214, 196), (150, 150, 146)
DARK, WHITE = (40, 44, 52), (250, 250, 248)
METAL, GLASS, ACCENT, YELLOW = (120, 126, 134), (150, 190, 210), (13, 94, 168), (246, 196, 40)


def _font(size: int):
    return ImageFont.load_default(size=size)


def _centred(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, size: int, fill) -> None:
    draw.text(xy, text, font=_font(size), fill=fill, anchor="mm")


def _facade(draw: ImageDraw.ImageDraw, rng: random.Random, *, door: tuple[int, int]) -> None:
    """Sky, a wall with a row of windows (none above the door between x door[0]..door[1]), the
    pavement."""
    w, h = SIZE
    draw.rectangle((0, 0, w, 180), fill=SKY)
    draw.rectangle((0, 180, w, 760), fill=WALL)
    draw.rectangle((0, 760, w, h), fill=GROUND)
    for x in range(40 + rng.randint(0, 40), w - 150, 240):  # windows, the building's rhythm
        if x + 150 < door[0] - 20 or x > door[1] + 20:
            draw.rectangle((x, 270, x + 150, 420), fill=GLASS, outline=DARK, width=4)


def _sign(draw: ImageDraw.ImageDraw, box, text: str, *, size: int = 40) -> None:
    draw.rectangle(box, fill=ACCENT)
    _centred(draw, ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2), text, size, WHITE)


def scene_ramp(draw, rng, value) -> None:
    """An entrance door up three steps, a ramp alongside with its handrail."""
    _facade(draw, rng, door=(480, 800))
    _sign(draw, (420, 190, 860, 250), "PUBLIC SERVICE CENTRE", size=30)
    draw.rectangle((540, 440, 740, 700), fill=GLASS, outline=DARK, width=6)  # door
    draw.line((640, 440, 640, 700), fill=DARK, width=4)
    for i in range(3):  # steps
        draw.rectangle((500 - 20 * i, 700 + 20 * i, 780 + 20 * i, 720 + 20 * i), fill=METAL,
                       outline=DARK, width=2)
    draw.polygon([(780, 700), (1220, 760), (780, 760)], fill=(170, 170, 164), outline=DARK)
    draw.line((780, 640, 1220, 700), fill=DARK, width=8)  # handrail
    for x in (800, 1000, 1200):
        y = 700 + (x - 780) * 60 // 440
        draw.line((x, y - 62, x, y), fill=DARK, width=6)


def scene_door(draw, rng, value) -> None:
    """The entrance door with a tape measure across its clear width."""
    _facade(draw, rng, door=(420, 860))
    draw.rectangle((420, 300, 860, 760), fill=GLASS, outline=DARK, width=8)
    draw.line((640, 300, 640, 760), fill=DARK, width=5)
    draw.rectangle((600, 520, 620, 580), fill=METAL)
    draw.rectangle((428, 600, 852, 640), fill=YELLOW, outline=DARK, width=2)  # tape
    for x in range(440, 852, 20):
        draw.line((x, 600, x, 612 if x % 100 else 622), fill=DARK, width=2)
    width = f"{value:g} cm" if isinstance(value, (int, float)) else "90 cm"
    draw.line((428, 680, 852, 680), fill=ACCENT, width=5)
    for x, sign in ((428, 1), (852, -1)):
        draw.polygon([(x, 680), (x + 24 * sign, 666), (x + 24 * sign, 694)], fill=ACCENT)
    draw.rectangle((540, 700, 740, 750), fill=WHITE)
    _centred(draw, (640, 725), width, 40, ACCENT)


def scene_queue_screen(draw, rng, value) -> None:
    """The electronic queue's display: ticket numbers and the counter that calls them."""
    w, h = SIZE
    draw.rectangle((0, 0, w, h), fill=WALL)
    draw.rectangle((160, 110, 1120, 690), fill=DARK, outline=METAL, width=16)
    _centred(draw, (400, 180), "TICKET", 40, (200, 200, 200))
    _centred(draw, (880, 180), "COUNTER", 40, (200, 200, 200))
    draw.line((200, 220, 1080, 220), fill=METAL, width=3)
    letters = "ABCE"
    for row in range(5):
        y = 280 + row * 85
        ticket = f"{rng.choice(letters)}{rng.randint(1, 199):03d}"
        colour = (120, 230, 120) if row == 0 else (240, 240, 240)
        _centred(draw, (400, y), ticket, 56, colour)
        _centred(draw, (880, y), str(rng.randint(1, 12)), 56, colour)
    draw.rectangle((560, 690, 720, 780), fill=METAL)
    draw.rectangle((0, 780, w, h), fill=GROUND)


def scene_fee_board(draw, rng, value) -> None:
    """A notice board listing services, fees and deadlines."""
    w, h = SIZE
    draw.rectangle((0, 0, w, h), fill=WALL)
    draw.rectangle((180, 80, 1100, 860), fill=WHITE, outline=(120, 90, 60), width=18)
    _sign(draw, (220, 120, 1060, 200), "SERVICES, FEES AND DEADLINES", size=38)
    rows = [("Identity card", "0.2 MCI", "15 days"), ("Passport", "4 MCI", "15 days"),
            ("Birth certificate", "free", "1 day"), ("Address registration", "free", "1 day"),
            ("Property certificate", "0.25 MCI", "5 days"), ("Driving licence", "1.25 MCI",
                                                              "1 day")]
    for i, (service, fee, days) in enumerate(rows):
        y = 260 + i * 95
        draw.line((220, y + 45, 1060, y + 45), fill=(200, 200, 200), width=2)
        draw.text((240, y), service, font=_font(36), fill=DARK)
        draw.text((700, y), fee, font=_font(36), fill=ACCENT)
        draw.text((900, y), days, font=_font(36), fill=DARK)


def scene_hotline(draw, rng, value) -> None:
    """An anti-corruption notice with the hotline number."""
    w, h = SIZE
    draw.rectangle((0, 0, w, h), fill=WALL)
    draw.rectangle((300, 90, 980, 850), fill=WHITE, outline=DARK, width=6)
    draw.rectangle((300, 90, 980, 250), fill=(196, 30, 40))
    _centred(draw, (640, 145), "NO TO CORRUPTION", 52, WHITE)
    _centred(draw, (640, 210), "Report a bribe request", 34, WHITE)
    draw.ellipse((520, 300, 760, 540), outline=(196, 30, 40), width=18)
    draw.line((560, 500, 720, 340), fill=(196, 30, 40), width=18)
    _centred(draw, (640, 420), "$", 110, DARK)
    _centred(draw, (640, 640), "Hotline 1424", 64, DARK)
    _centred(draw, (640, 730), "free, 24 hours", 36, METAL)


def scene_waiting_area(draw, rng, value) -> None:
    """The waiting hall: rows of seats, counters at the back."""
    w, h = SIZE
    draw.rectangle((0, 0, w, 520), fill=WALL)
    draw.rectangle((0, 520, w, h), fill=(190, 180, 160))
    for i in range(5):  # counters
        x = 80 + i * 240
        draw.rectangle((x, 300, x + 180, 470), fill=(210, 200, 180), outline=DARK, width=3)
        _centred(draw, (x + 90, 330), str(i + 1), 36, ACCENT)
    for row in range(2):
        y = 620 + row * 150
        for i in range(8):
            x = 120 + i * 135
            taken = rng.random() < 0.4
            draw.rectangle((x, y, x + 100, y + 60), fill=ACCENT if not taken else METAL,
                           outline=DARK, width=3)
            draw.rectangle((x, y - 60, x + 100, y), fill=ACCENT if not taken else METAL,
                           outline=DARK, width=3)


SCENES = {"ramp": scene_ramp, "door": scene_door, "queue_screen": scene_queue_screen,
          "fee_board": scene_fee_board, "hotline": scene_hotline,
          "waiting_area": scene_waiting_area}


# --- the file --------------------------------------------------------------------------------

def _dms(value: float) -> tuple[float, float, float]:
    """Degrees, minutes, seconds (as EXIF rationals) of a positive angle."""
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return float(degrees), float(minutes), seconds


def exif_for(shot: Shot) -> Image.Exif:
    """The tags a phone camera writes: make, model, capture time with offset, GPS with accuracy."""
    if shot.taken.tzinfo is None:
        raise ValueError("a demo photo's time must be aware")
    exif = Image.Exif()
    local = shot.taken.strftime("%Y:%m:%d %H:%M:%S")
    offset = shot.taken.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}"
    exif[_MAKE], exif[_MODEL], exif[_SOFTWARE] = MAKE, MODEL, "Adal demo"
    exif[_ORIENTATION], exif[_DATETIME] = 1, local
    sub = exif.get_ifd(_EXIF_IFD)
    sub[_DATETIME_ORIGINAL] = sub[_DATETIME_DIGITIZED] = local
    sub[_OFFSET_TIME] = sub[_OFFSET_TIME_ORIGINAL] = sub[_OFFSET_TIME_DIGITIZED] = offset
    utc = shot.taken.astimezone(timezone.utc)
    gps = exif.get_ifd(_GPS_IFD)
    gps[_GPS["version"]] = b"\x02\x03\x00\x00"
    gps[_GPS["lat_ref"]] = "N" if shot.lat >= 0 else "S"
    gps[_GPS["lat"]] = _dms(abs(shot.lat))
    gps[_GPS["lon_ref"]] = "E" if shot.lon >= 0 else "W"
    gps[_GPS["lon"]] = _dms(abs(shot.lon))
    gps[_GPS["time"]] = (float(utc.hour), float(utc.minute), float(utc.second))
    gps[_GPS["date"]] = utc.strftime("%Y:%m:%d")
    gps[_GPS["datum"]] = "WGS-84"
    gps[_GPS["error"]] = float(shot.accuracy_m)
    return exif


def draw_photo(*, scene: str, caption: str, shot: Shot, seed: int, value=None) -> bytes:
    """A JPEG of `scene` with `caption` along the bottom and the EXIF of `shot`; the same
    arguments give the same bytes."""
    rng = random.Random(seed)
    image = Image.new("RGB", SIZE, WHITE)
    draw = ImageDraw.Draw(image)
    SCENES[scene](draw, rng, value)
    w, h = SIZE
    draw.rectangle((0, h - 70, w, h), fill=(0, 0, 0))
    draw.text((24, h - 35), caption, font=_font(32), fill=WHITE, anchor="lm")
    stamp = shot.taken.strftime("%Y-%m-%d %H:%M")
    draw.text((w - 24, h - 35), f"Adal demo · {stamp}", font=_font(26), fill=(190, 190, 190),
              anchor="rm")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif_for(shot))
    return out.getvalue()
