"""Evidence media processing: check what a file is, read its facts, make its derivatives.

Pure: no Flask, no database, no storage. The caller hands over a path to the stored original (never
modified here) and a work directory for derivatives, and gets an `Analysis` or a `MediaRefused`.

    kind, content_type = sniff(path)                  # magic bytes only, cheap, in-process
    analysis = analyse(path, workdir=tmp)             # decoders run in a child process

Order of work in `analyse()`:
1. `sniff()` (bytes only) decides the type from the allow-list, or refuses it (415).
2. A child process (multiprocessing 'forkserver') *validates* the file by decoding it: images
   through Pillow opened with `formats=[the sniffed format]` so no other decoder is ever reached,
   the pixel count checked from the header before any pixel is decoded, then a full decode; video
   and audio through PyAV with the demuxer forced to the sniffed container and a bounded probe.
   Facts are read here (size, duration, codecs, capture time, GPS). A failure refuses the file.
3. The same child then writes the derivatives (thumbnail + preview for photos, a poster for video).
   A failure here no longer refuses the file: the analysis comes back with `derivative_error`.
A hang or a crash of the child (a hostile file tripping a decoder) is contained: the parent kills
it at the deadline and answers as in 2 or 3 depending on how far the child got.

See docs/media-processing.md for the rules and the anonymity guarantees.
"""
from __future__ import annotations

import io
import math
import multiprocessing
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .sniff import MediaRefused, refuse_type, sniff

__all__ = ["Analysis", "Derivative", "MediaRefused", "analyse", "sniff"]

THUMBNAIL_PX = 320      # long side
PREVIEW_PX = 1600
POSTER_PX = 1280
JPEG_QUALITY = 82
PROBE_BYTES = 5_000_000          # FFmpeg probesize: bytes read to find the streams
ANALYZE_US = 5_000_000           # FFmpeg analyzeduration: media time read to find the streams
FULL_SCAN_BYTES = 256 << 20      # up to this size every packet is demuxed to check the duration
MAX_PACKET_SECONDS = 10.0        # an average packet longer than this means a padded header
CHILD_MEMORY_BYTES = 4 << 30     # address-space cap for the decoding child
CHILD_FILE_BYTES = 512 << 20     # largest file the child may write
# Test-only: "validate:sleep", "validate:abort", "validate:segv", "derivatives:sleep",
# "derivatives:abort", "derivatives:raise" make the child misbehave at that point, to prove the
# parent survives. The parent copies the variable into the job (a forkserver child does not see the
# parent's current environment); nothing in production sets it.
FAULT_ENV = "ADAL_MEDIA_TEST_FAULT"

_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP",
                "image/heic": "HEIF", "image/heif": "HEIF"}
_AV_FORMATS = {"video/mp4": "mov", "video/quicktime": "mov", "video/3gpp": "mov",
               "audio/mp4": "mov", "video/webm": "matroska", "audio/ogg": "ogg",
               "audio/mpeg": "mp3", "audio/wav": "wav", "audio/aac": "aac"}
_CONTAINER_NAMES = {"video/mp4": "mp4", "video/quicktime": "mov", "video/3gpp": "3gp",
                    "audio/mp4": "m4a", "video/webm": "webm", "audio/ogg": "ogg",
                    "audio/mpeg": "mp3", "audio/wav": "wav", "audio/aac": "aac"}
_AUDIO_ONLY_TYPE = {"video/mp4": "audio/mp4", "video/quicktime": "audio/mp4",
                    "video/3gpp": "audio/3gpp", "video/webm": "audio/webm"}
VIDEO_CODECS = {"h264", "hevc", "mpeg4", "h263", "vp8", "vp9", "av1", "mjpeg", "prores"}
AUDIO_CODECS = {"aac", "mp3", "opus", "vorbis", "flac", "alac", "amr_nb", "amr_wb", "ac3", "eac3",
                "pcm_u8", "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be", "pcm_s32le",
                "pcm_s32be", "pcm_f32le", "pcm_f64le", "pcm_alaw", "pcm_mulaw", "adpcm_ima_wav",
                "adpcm_ms", "gsm_ms"}
_OGG_CODECS = {"opus", "vorbis"}


@dataclass
class Derivative:
    name: str               # 'thumbnail' | 'preview' | 'poster'
    path: Path
    content_type: str
    width: int
    height: int


@dataclass
class Analysis:
    kind: str               # 'photo' | 'video' | 'audio'
    content_type: str
    width: int | None       # as displayed: EXIF orientation / video rotation applied
    height: int | None
    duration: float | None  # seconds
    duration_claimed: bool
    captured_at: datetime | None
    gps: tuple[float, float] | None
    gps_status: str         # 'valid' | 'invalid' | 'absent'
    info: dict[str, Any] = field(default_factory=dict)
    derivatives: list[Derivative] = field(default_factory=list)
    derivative_error: str | None = None


# --- the parent side ---------------------------------------------------------------------------

def analyse(path: Path, *, workdir: Path, max_pixels: int = 40_000_000,
            timeout: float = 60.0, derivatives: bool = True) -> Analysis:
    """Validate `path`, read its facts and write its derivatives into `workdir`.

    Raises MediaRefused for anything that is not acceptable evidence. Never modifies `path`.
    """
    path, workdir = Path(path), Path(workdir)
    kind, content_type = sniff(path)
    workdir.mkdir(parents=True, exist_ok=True)
    job = {"path": str(path), "workdir": str(workdir), "kind": kind,
           "content_type": content_type, "max_pixels": int(max_pixels),
           "size": path.stat().st_size, "timeout": float(timeout),
           "fault": os.environ.get(FAULT_ENV) or None, "derivatives": derivatives}
    return _run_isolated(job, float(timeout))


_preloaded = False


def _context():
    """A 'forkserver' context (spawn where there is none): children start from a clean process."""
    global _preloaded
    try:
        ctx = multiprocessing.get_context("forkserver")
    except ValueError:  # pragma: no cover - platforms without fork
        return multiprocessing.get_context("spawn")
    if not _preloaded:  # import the decoders once in the server process, not in every child
        ctx.set_forkserver_preload(["server.media.processing", "PIL.Image", "av", "pillow_heif"])
        _preloaded = True
    return ctx


def _run_isolated(job: dict, timeout: float) -> Analysis:
    ctx = _context()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, args=(sender, job), name="adal-media", daemon=True)
    proc.start()
    sender.close()
    deadline = time.monotonic() + timeout
    started = False
    validated: dict | None = None
    derivatives: list[dict] = []
    error: str | None = None
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not receiver.poll(remaining):
                error = f"timed out after {timeout:g} s"
                break
            try:
                message = receiver.recv()
            except (EOFError, OSError):
                proc.join(2)
                error = _death(proc.exitcode)
                break
            tag = message[0]
            if tag == "started":
                started = True
            elif tag == "refused":
                raise MediaRefused(message[1], message[2], message[3], detected=message[4])
            elif tag == "validated":
                validated = message[1]
            elif tag == "derivatives":
                derivatives = message[1]
                break
            elif tag == "derivative_error":
                error = message[1]
                break
    finally:
        receiver.close()
        proc.join(0.5)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
    if not started:  # the worker itself is broken (it never ran): not the file's fault
        raise RuntimeError(f"the media worker process {error} before it started; "
                           f"a script calling analyse() needs an `if __name__ == '__main__':` "
                           f"guard (multiprocessing re-imports the main module)")
    if validated is None:
        _remove_derivatives(Path(job["workdir"]))
        raise MediaRefused("unreadable_media",
                           f"The file could not be read safely: the decoder {error} while "
                           f"validating it.")
    analysis = _analysis_from(validated)
    if error is not None:
        _remove_derivatives(Path(job["workdir"]))
        analysis.derivative_error = f"derivatives not made: the decoder {error}"
    else:
        analysis.derivatives = [Derivative(d["name"], Path(d["path"]), d["content_type"],
                                           d["width"], d["height"]) for d in derivatives]
    return analysis


def _death(exitcode: int | None) -> str:
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        import signal
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"crashed ({name})"
    return f"exited unexpectedly (status {exitcode})"


def _remove_derivatives(workdir: Path) -> None:
    for name in ("thumbnail", "preview", "poster"):
        for candidate in (workdir / f"{name}.jpg", workdir / f"{name}.jpg.part"):
            candidate.unlink(missing_ok=True)


def _analysis_from(meta: dict) -> Analysis:
    captured = meta.get("captured_at")
    gps = meta.get("gps")
    return Analysis(kind=meta["kind"], content_type=meta["content_type"],
                    width=meta.get("width"), height=meta.get("height"),
                    duration=meta.get("duration"),
                    duration_claimed=bool(meta.get("duration_claimed")),
                    captured_at=datetime.fromisoformat(captured) if captured else None,
                    gps=(gps[0], gps[1]) if gps else None,
                    gps_status=meta.get("gps_status", "absent"), info=meta.get("info", {}))


# --- the child side ----------------------------------------------------------------------------

def _child_main(conn, job: dict) -> None:
    """Entry point of the decoding child: sends 'validated' then 'derivatives' (or an error)."""
    try:
        conn.send(("started",))
        _limit_resources()
        if job["kind"] == "photo":  # Pillow warns from here (an error below) and fails at 2x
            from PIL import Image, ImageFile
            Image.MAX_IMAGE_PIXELS = job["max_pixels"]
            ImageFile.LOAD_TRUNCATED_IMAGES = False
        fault = job.get("fault") or ""
        try:
            _fault(fault, "validate")
            meta, state = validate(job)
        except MediaRefused as refusal:
            conn.send(("refused", refusal.code, refusal.detail, refusal.status, refusal.detected))
            return
        except Exception as exc:  # a decoder failing in a way not foreseen below
            code = "corrupt_image" if job["kind"] == "photo" else "unreadable_media"
            conn.send(("refused", code, f"The file could not be decoded ({_brief(exc)}).",
                       None, None))
            return
        conn.send(("validated", meta))
        if not job.get("derivatives", True):  # validation only (derivatives come by a job)
            conn.send(("derivatives", []))
            return
        try:
            _fault(fault, "derivatives")
            made = make_derivatives(meta, state, Path(job["workdir"]))
        except Exception as exc:
            conn.send(("derivative_error", f"failed ({_brief(exc)})"))
            return
        conn.send(("derivatives", made))
    finally:
        conn.close()


def _limit_resources() -> None:
    try:
        import resource
    except ImportError:  # pragma: no cover
        return
    for limit, value in ((resource.RLIMIT_CORE, 0), (resource.RLIMIT_AS, CHILD_MEMORY_BYTES),
                         (resource.RLIMIT_FSIZE, CHILD_FILE_BYTES)):
        try:
            soft, hard = resource.getrlimit(limit)
            if soft == resource.RLIM_INFINITY or soft > value:
                resource.setrlimit(limit, (value, hard))
        except (ValueError, OSError):  # pragma: no cover
            pass


def _fault(fault: str, phase: str) -> None:
    """The test-only misbehaviour hook (see FAULT_ENV)."""
    if not fault.startswith(phase + ":"):
        return
    action = fault.split(":", 1)[1]
    if action == "sleep":
        time.sleep(3600)
    elif action == "abort":
        os.abort()
    elif action == "segv":
        import ctypes
        ctypes.string_at(0)
    elif action == "raise":
        raise RuntimeError("injected failure")


def _brief(exc: BaseException) -> str:
    """'Type: first line of the message', without server paths (PyAV names the file)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = re.sub(r"""(:\s*)?['"]?(?<![\w.])/[^\s'"]*['"]?""", "", text)[:200].strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def validate(job: dict) -> tuple[dict, Any]:
    """Decode and read the facts. Returns (JSON-safe meta, state for make_derivatives)."""
    if job["kind"] == "photo":
        return _validate_photo(Path(job["path"]), job["content_type"], job["max_pixels"])
    return _validate_av(job)


def make_derivatives(meta: dict, state: Any, workdir: Path) -> list[dict]:
    """Write the derivatives of a validated file; returns their descriptions."""
    if meta["kind"] == "photo":
        return _photo_derivatives(state, workdir)
    if meta["kind"] == "video" and state is not None:
        image, rotation = state
        poster = _fit(_rotate_ccw(image, rotation), POSTER_PX)
        return [_save_jpeg(poster, workdir, "poster")]
    return []


# --- photos ------------------------------------------------------------------------------------

_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        from pillow_heif import register_heif_opener
        register_heif_opener()
        _heif_registered = True


def open_photo(path: Path, content_type: str, max_pixels: int, long_side: int = PREVIEW_PX):
    """Open with the one sniffed Pillow format, cap pixels from the header, decode (drafted).

    Returns (image loaded at >= long_side where the format can scale on decode, original size,
    EXIF facts). Raises MediaRefused (image_too_large, corrupt_image). Expects Pillow's default
    ImageFile.LOAD_TRUNCATED_IMAGES = False (the child process sets it).
    """
    from PIL import Image, UnidentifiedImageError
    _register_heif()
    fmt = _PIL_FORMATS[content_type]
    label = "HEIC/HEIF" if fmt == "HEIF" else fmt
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(path, formats=[fmt])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise MediaRefused("image_too_large", f"The image is over the limit of "
                                                  f"{max_pixels / 1e6:g} MP ({exc}).")
        except UnidentifiedImageError:
            raise MediaRefused("corrupt_image", f"The file starts like a {label} image but its "
                                                f"header cannot be read.")
        except Exception as exc:
            raise MediaRefused("corrupt_image", f"The {label} image's header cannot be read "
                                                f"({_brief(exc)}).")
        width, height = im.size
        if width <= 0 or height <= 0:
            raise MediaRefused("corrupt_image", f"The {label} image claims a size of "
                                                f"{width}×{height} pixels.")
        if width * height > max_pixels:
            raise MediaRefused("image_too_large",
                               f"The image is {width}×{height} pixels "
                               f"({width * height / 1e6:.1f} MP), over the limit of "
                               f"{max_pixels / 1e6:g} MP.")
        if fmt == "JPEG":  # let libjpeg scale by 1/2, 1/4 or 1/8 while decoding (DCT scaling)
            scale = min(1.0, long_side / max(width, height))
            im.draft("RGB", (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))))
        try:
            im.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise MediaRefused("image_too_large", f"The image is too large to process ({exc}).")
        except MemoryError:
            raise MediaRefused("image_too_large", "The image needs more memory than allowed.")
        except Exception as exc:
            raise MediaRefused("corrupt_image", f"The {label} image is truncated or corrupt: "
                                                f"its pixels cannot be decoded ({_brief(exc)}).")
    return im, (width, height), _exif_facts(im)  # after load(): PNG may keep EXIF after IDAT


def _validate_photo(path: Path, content_type: str, max_pixels: int) -> tuple[dict, Any]:
    im, (width, height), facts = open_photo(path, content_type, max_pixels)
    orientation = facts.pop("orientation")
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    info = {"container": {"image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp"}
            .get(content_type, "heif"), "exif_orientation": None, **facts.pop("info")}
    bit_depth = im.info.get("bit_depth")
    if isinstance(bit_depth, int):
        info["bit_depth"] = bit_depth
    frames = getattr(im, "n_frames", 1)
    if isinstance(frames, int) and frames > 1:
        info["frames"] = frames
    meta = {"kind": "photo", "content_type": content_type, "width": width, "height": height,
            "duration": None, "duration_claimed": False, **facts, "info": info}
    return meta, (im, orientation)


_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
              6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}  # as ImageOps.exif_transpose


def photo_derivative_images(im, orientation: int | None):
    """(preview, thumbnail) Pillow images: sRGB, upright, no metadata. `im` is loaded."""
    from PIL import Image
    icc = im.info.get("icc_profile")
    im = _flatten(im)
    preview = _fit(im, PREVIEW_PX)
    preview = _to_srgb(preview, icc)
    if orientation in _TRANSPOSE:
        preview = preview.transpose(getattr(Image.Transpose, _TRANSPOSE[orientation]))
    thumbnail = _fit(preview, THUMBNAIL_PX)
    return preview, thumbnail


def _photo_derivatives(state, workdir: Path) -> list[dict]:
    im, orientation = state
    preview, thumbnail = photo_derivative_images(im, orientation)
    return [_save_jpeg(thumbnail, workdir, "thumbnail"), _save_jpeg(preview, workdir, "preview")]


def _flatten(im):
    """RGB, L or CMYK pixels: alpha composited on white, 16-bit and palette images converted."""
    from PIL import Image
    if im.mode in ("RGB", "L", "CMYK"):
        return im
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        im = im.convert("I").point(lambda v: v * (1 / 256)).convert("L") \
            if im.mode != "F" else im.convert("L")
    elif im.mode == "1":
        im = im.convert("L")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im if im.mode in ("RGB", "L") else im.convert("RGB")


def _to_srgb(im, icc: bytes | None):
    """Colour-manage into sRGB when the image carries a profile; CMYK always ends as RGB."""
    if icc and im.mode in ("RGB", "CMYK"):
        try:
            from PIL import ImageCms
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if im.mode == "CMYK" or not ImageCms.getProfileDescription(source).startswith("sRGB"):
                im = ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"),
                                               outputMode="RGB")
        except Exception:  # a broken profile: keep the pixels as they are
            pass
    return im if im.mode in ("RGB", "L") else im.convert("RGB")


def _fit(im, long_side: int):
    """Scaled so the long side is at most `long_side` (never enlarged): reduce(), then bicubic
    (what Image.thumbnail() does; Lanczos costs 50% more on the 2000 -> 1600 step for no visible
    gain at these ratios)."""
    from PIL import Image
    width, height = im.size
    scale = long_side / max(width, height)
    if scale >= 1:
        return im
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return im.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def _save_jpeg(im, workdir: Path, name: str) -> dict:
    """A JPEG carrying pixels only: re-created from raw bytes, so no EXIF, XMP, ICC or comment."""
    from PIL import Image
    if im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    clean = Image.frombytes(im.mode, im.size, im.tobytes())
    target = workdir / f"{name}.jpg"
    partial = workdir / f"{name}.jpg.part"
    clean.save(partial, "JPEG", quality=JPEG_QUALITY)
    os.replace(partial, target)
    return {"name": name, "path": str(target), "content_type": "image/jpeg",
            "width": clean.width, "height": clean.height}


def _rotate_ccw(im, degrees: int):
    from PIL import Image
    turn = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
            270: Image.Transpose.ROTATE_270}.get(degrees % 360)
    return im.transpose(turn) if turn is not None else im


# --- EXIF: never raises; anything unreadable is simply absent or invalid ----------------------

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_TIME_TAGS = ((0x9003, 0x9011, 0x9291, "DateTimeOriginal"),
              (0x9004, 0x9012, 0x9292, "DateTimeDigitized"),
              (0x0132, 0x9010, 0x9290, "DateTime"))
_EXIF_TIME = re.compile(r"^\s*(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")


def _exif_facts(im) -> dict:
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


# --- video and audio ---------------------------------------------------------------------------

def _validate_av(job: dict) -> tuple[dict, Any]:
    import av
    path, content_type = job["path"], job["content_type"]
    deadline = time.monotonic() + job["timeout"]
    demuxer, container_name = _AV_FORMATS[content_type], _CONTAINER_NAMES[content_type]
    what = container_name.upper()
    try:
        container = _open_av(path, demuxer)
    except Exception as exc:
        raise MediaRefused("unreadable_media", f"The {what} file cannot be opened: it is "
                                               f"truncated or not really {what} ({_brief(exc)}).")
    with container:
        videos = [s for s in container.streams.video
                  if not s.disposition & av.stream.Disposition.attached_pic]
        audios = list(container.streams.audio)
        kind, content_type = _refine_kind(job["kind"], content_type, videos, audios)
        main = videos[0] if kind == "video" else audios[0]
        video_codec = _codec_name(videos[0]) if videos and kind == "video" else None
        audio_codec = _codec_name(audios[0]) if audios else None
        if video_codec is not None and video_codec not in VIDEO_CODECS:
            raise refuse_type(f"a {what} video with the {video_codec} codec")
        if kind == "audio" and audio_codec not in AUDIO_CODECS:
            raise refuse_type(f"{what} audio with the {audio_codec} codec")
        if content_type == "audio/ogg" and audio_codec not in _OGG_CODECS:
            raise refuse_type(f"Ogg audio with the {audio_codec} codec (only Opus or Vorbis)")
        info: dict[str, Any] = {"container": container_name, "audio_codec": audio_codec}
        width = height = None
        if kind == "video":
            cc = main.codec_context
            width, height = cc.width or None, cc.height or None
            if width and height and width * height > job["max_pixels"]:
                raise MediaRefused("image_too_large",
                                   f"The video frames are {width}×{height} pixels, over the limit "
                                   f"of {job['max_pixels'] / 1e6:g} MP.")
            rate = main.average_rate or main.guessed_rate
            info.update(video_codec=video_codec,
                        frame_rate=round(float(rate), 3) if rate else None)
        if audios:
            acc = audios[0].codec_context
            info.update(sample_rate=acc.sample_rate or None, channels=acc.channels or None)
        if container.bit_rate:
            info["bit_rate"] = int(container.bit_rate)
        header = container.duration / 1_000_000 if container.duration else None
        if header is None and main.duration and main.time_base:
            header = float(main.duration * main.time_base)
        budget = max(1.0, (deadline - time.monotonic()) * 0.5)
        observed, average = _observe(container, main, header, job["size"], budget)
        captured, offset_known, gps_status, gps = _av_tags(container)
    if observed is None:
        raise MediaRefused("unreadable_media", f"The {what} file holds no readable "
                                               f"{'video' if kind == 'video' else 'audio'} data.")
    backed = header is not None and observed >= 0.9 * header - 1.0 \
        and (average is None or average <= MAX_PACKET_SECONDS)
    info["duration_observed"] = round(observed, 3)
    info["duration_source"] = "header" if header is not None else "packets"
    if captured is not None:
        info["captured_at_offset_known"] = offset_known
    state = None
    if kind == "video":
        image, rotation_ccw = _first_frame(path, demuxer, what)
        info["rotation"] = (-rotation_ccw) % 360  # clockwise, as the old 'rotate' tag
        info["coded_width"], info["coded_height"] = image.size
        width, height = image.size
        if rotation_ccw % 180:
            width, height = height, width
        state = (image, rotation_ccw)
    else:
        _decode_some_audio(path, demuxer, what)
    meta = {"kind": kind, "content_type": content_type, "width": width, "height": height,
            "duration": round(header if header is not None else observed, 3),
            "duration_claimed": header is not None and not backed,
            "captured_at": captured, "gps": gps, "gps_status": gps_status,
            "info": {k: v for k, v in info.items() if v is not None}}
    return meta, state


def _codec_name(stream) -> str:
    """The codec's own name ('mp3'), not the decoder's ('mp3float')."""
    context = stream.codec_context
    return getattr(context.codec, "canonical_name", None) or context.name


def _refine_kind(kind: str, content_type: str, videos: list, audios: list) -> tuple[str, str]:
    if content_type == "audio/ogg" and videos:
        raise refuse_type("an Ogg file with a video stream (video/ogg)")
    if kind == "video" and not videos and audios:
        return "audio", _AUDIO_ONLY_TYPE.get(content_type, content_type)
    if kind == "audio" and content_type == "audio/mp4" and videos:
        return "video", "video/mp4"
    if kind == "video" and not videos or kind == "audio" and not audios:
        raise MediaRefused("unreadable_media", "The file holds no audio or video stream.")
    return kind, content_type


def _observe(container, stream, header: float | None, size: int,
             budget: float) -> tuple[float | None, float | None]:
    """Media time the packets really cover, and the average packet duration (seconds).

    Every packet is demuxed (not decoded) up to FULL_SCAN_BYTES; for larger files, the tail
    after a seek to the claimed end. A header that claims more than the packets hold is 'claimed'.
    """
    tail = header is not None and size > FULL_SCAN_BYTES
    if tail:
        try:
            container.seek(int(max(0.0, header - 10) * 1_000_000), backward=True)
        except Exception:
            pass
    base = stream.time_base
    start = stream.start_time * base if stream.start_time is not None and base else None
    first = last = None
    count = 0
    began = time.monotonic()
    try:
        for packet in container.demux(stream):
            stamp = packet.pts if packet.pts is not None else packet.dts
            if packet.size == 0 or stamp is None:
                continue
            count += 1
            begin = float(stamp * packet.time_base)
            end = float((stamp + (packet.duration or 0)) * packet.time_base)
            first = begin if first is None else min(first, begin)
            last = end if last is None else max(last, end)
            if count % 512 == 0 and time.monotonic() - began > budget:
                break
    except Exception:  # the data ends (or breaks) before the header says it does
        pass
    if last is None:
        return None, None
    if tail:
        origin = float(start) if start is not None else 0.0
    else:
        origin = min(float(start), first) if start is not None else first
    observed = max(0.0, last - origin)
    span = last - first
    average = span / count if count > 1 and span > 0 else None
    return observed, average


def _open_av(path: str, demuxer: str):
    """PyAV input with the demuxer forced (no probing into other formats) and a bounded probe."""
    import av
    return av.open(path, format=demuxer, metadata_errors="replace",
                   options={"probesize": str(PROBE_BYTES), "analyzeduration": str(ANALYZE_US)})


def _first_frame(path: str, demuxer: str, what: str):
    """The first decodable key frame of the first video stream: (RGB image, rotation ccw)."""
    import av
    try:
        with _open_av(path, demuxer) as container:
            stream = next(s for s in container.streams.video
                          if not s.disposition & av.stream.Disposition.attached_pic)
            stream.codec_context.skip_frame = "NONKEY"
            tries = 0
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                tries += 1
                try:
                    frames = packet.decode() or stream.codec_context.decode(None)
                except av.error.FFmpegError:
                    frames = []
                if frames:
                    frame = frames[0]
                    rotation = int(round(frame.rotation or 0))
                    if not rotation:
                        rotation = -int(float(stream.metadata.get("rotate", 0) or 0))
                    return frame.to_image(), rotation % 360
                if tries >= 300:
                    break
    except MediaRefused:
        raise
    except Exception as exc:
        raise MediaRefused("unreadable_media", f"The {what} video cannot be decoded "
                                               f"({_brief(exc)}).")
    raise MediaRefused("unreadable_media", f"The {what} video has no decodable frame.")


def _decode_some_audio(path: str, demuxer: str, what: str, frames: int = 5) -> None:
    import av
    decoded = tries = 0
    try:
        with _open_av(path, demuxer) as container:
            stream = container.streams.audio[0]
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                tries += 1
                try:
                    decoded += len(packet.decode())
                except av.error.FFmpegError:
                    pass
                if decoded >= frames or tries >= 200:
                    break
            if not decoded:
                decoded = len(stream.codec_context.decode(None))
    except Exception as exc:
        raise MediaRefused("unreadable_media", f"The {what} audio cannot be decoded "
                                               f"({_brief(exc)}).")
    if not decoded:
        raise MediaRefused("unreadable_media", f"The {what} audio has no decodable frame.")


_ISO6709 = re.compile(r"^\s*([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)")


def _av_tags(container) -> tuple[str | None, bool, str, list[float] | None]:
    """Capture time and position from container tags; never raises. Nothing else is kept."""
    tags: dict[str, str] = {}
    try:
        for source in [container.metadata] + [s.metadata for s in container.streams]:
            for key, value in source.items():
                tags.setdefault(str(key).lower(), str(value))
    except Exception:
        pass
    captured, offset_known = None, False
    for key in ("com.apple.quicktime.creationdate", "creation_time", "date"):
        found = _iso_time(tags.get(key))
        if found is not None:
            captured, offset_known = found[0].isoformat(), found[1]
            break
    keys = ("com.apple.quicktime.location.iso6709", "location", "location-eng")
    raw = next((tags[k] for k in keys if k in tags), None)
    if raw is None:
        return captured, offset_known, "absent", None
    try:
        match = _ISO6709.match(raw)
        lat = _iso6709_part(match.group(1), 2)
        lon = _iso6709_part(match.group(2), 3)
        if abs(lat) > 90 or abs(lon) > 180 or (lat == 0 and lon == 0):
            raise ValueError("out of range")
    except Exception:
        return captured, offset_known, "invalid", None
    return captured, offset_known, "valid", [round(lat, 7), round(lon, 7)]


def _iso6709_part(text: str, degree_digits: int) -> float:
    sign = -1 if text[0] == "-" else 1
    whole, _, fraction = text[1:].partition(".")
    fraction = "." + (fraction or "0")
    d = degree_digits
    value = float(text[1:])
    if len(whole) == d + 2:      # DDMM.mm
        value = int(whole[:d]) + float(whole[d:] + fraction) / 60
    elif len(whole) == d + 4:    # DDMMSS.ss
        value = int(whole[:d]) + int(whole[d:d + 2]) / 60 + float(whole[d + 2:] + fraction) / 3600
    if not math.isfinite(value):
        raise ValueError("not a number")
    return sign * value


def _iso_time(raw: str | None) -> tuple[datetime, bool] | None:
    """(moment, whether the text gave its offset); naive times are taken as UTC."""
    if not raw:
        return None
    text = raw.strip().replace("Z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.year < 1995:  # 1904/1970 epochs: the device never set the time
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc), False
    return moment, True
