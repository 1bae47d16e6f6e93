"""EXIF facts of a photo: orientation, capture time and GPS position.

Never raises: anything unreadable is simply absent or invalid. Called by `photos.open_photo`
with the decoded Pillow image (PNG may keep its EXIF after the pixel data).
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_TIME_TAGS = ((0x9003, 0x9011, 0x9291, "DateTimeOriginal"),
              (0x9004, 0x9012, 0x9292, "DateTimeDigitized"),
              (0x0132, 0x9010, 0x9290, "DateTime"))
_EXIF_TIME = re.compile(r"^\s*(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")


def exif_facts(im) -> dict:
    """Orientation, capture time and GPS from the image's EXIF; the info keys that go with them."""
    facts = {"orientation": None, "captured_at": None, "gps": None, "gps_status": "absent",
             "info": {}}
    try:
        exif = im.getexif()
    except Exception:
        return facts
    try:
        original = im.info.get("original_orientation")  # pillow-heif has applied it already
        value = int(original if original is not None else exif.get(0x0112))
        if value in range(1, 9):
            facts["info"]["exif_orientation"] = value
            facts["orientation"] = value if original is None else None
    except Exception:
        pass
    try:
        sub = dict(exif.get_ifd(_EXIF_IFD))
    except Exception:
        sub = {}
    for time_tag, offset_tag, subsec_tag, source in _TIME_TAGS:
        try:
            where = exif if time_tag == 0x0132 else sub
            when = _exif_time(where.get(time_tag), sub.get(offset_tag), sub.get(subsec_tag))
        except Exception:
            when = None
        if when is not None:
            moment, offset_known = when
            facts["captured_at"] = moment.isoformat()
            facts["info"].update(captured_at_offset_known=offset_known,
                                 captured_at_source=source)
            break
    try:
        gps_ifd = dict(exif.get_ifd(_GPS_IFD))
    except Exception:
        gps_ifd = {0x0002: "unreadable"}
    status, position, accuracy = _exif_gps(gps_ifd)
    facts["gps_status"], facts["gps"] = status, position
    if accuracy is not None:
        facts["info"]["gps_accuracy_m"] = accuracy
    return facts


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return str(value).replace("\x00", "").strip()


def _exif_time(raw, offset_raw, subsec_raw) -> tuple[datetime, bool] | None:
    if raw is None:
        return None
    match = _EXIF_TIME.match(_text(raw))
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups())
    try:
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    subsec = re.match(r"^\d{1,6}", _text(subsec_raw)) if subsec_raw is not None else None
    if subsec:
        moment = moment.replace(microsecond=int(subsec.group().ljust(6, "0")))
    offset = _OFFSET.match(_text(offset_raw)) if offset_raw is not None else None
    if offset:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta <= timedelta(hours=14) and int(minutes) < 60:
            tz = timezone(-delta if sign == "-" else delta)
            return moment.replace(tzinfo=tz), True
    return moment.replace(tzinfo=timezone.utc), False


def _exif_gps(gps: dict) -> tuple[str, list[float] | None, float | None]:
    """('valid', [lat, lon], accuracy) | ('invalid', None, None) | ('absent', None, None)."""
    if 0x0002 not in gps and 0x0004 not in gps:
        return "absent", None, None
    try:
        lat = _degrees(gps[0x0002], _text(gps.get(0x0001, "")).upper(), "NS", 90)
        lon = _degrees(gps[0x0004], _text(gps.get(0x0003, "")).upper(), "EW", 180)
        if _text(gps.get(0x0009, "A")).upper() == "V":  # GPSStatus: measurement void
            raise ValueError("void")
        if lat == 0 and lon == 0:  # what phones write when they have no fix
            raise ValueError("null island")
    except Exception:
        return "invalid", None, None
    accuracy = None
    try:
        value = float(gps[0x001F])  # GPSHPositioningError, metres
        accuracy = round(value, 1) if math.isfinite(value) and value >= 0 else None
    except Exception:
        pass
    return "valid", [round(lat, 7), round(lon, 7)], accuracy


def _degrees(value, ref: str, refs: str, limit: float) -> float:
    parts = [float(v) for v in value] if isinstance(value, (tuple, list)) else [float(value)]
    if not 1 <= len(parts) <= 3 or not all(math.isfinite(p) and p >= 0 for p in parts):
        raise ValueError("bad rational")
    if any(p >= 60.0001 for p in parts[1:]):
        raise ValueError("minutes or seconds out of range")
    degrees = sum(p / 60 ** i for i, p in enumerate(parts))
    if ref not in refs or degrees > limit:
        raise ValueError("out of range")
    return -degrees if ref == refs[1] else degrees

