"""Photos with Pillow: open and validate a photo, and make the JPEG derivatives.

Runs in the decoding child of `server.media.processing` (never in a request): the photo is opened
with the one sniffed Pillow format, its pixel count checked from the header before any pixel is
decoded, then decoded; the derivatives (thumbnail, preview, a video's poster) are re-encoded
from raw pixels, so they carry no metadata. See docs/media-processing.md.
"""
from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path
from typing import Any

from .exif import exif_facts
from .sniff import MediaRefused, brief

THUMBNAIL_PX = 320      # long side
PREVIEW_PX = 1600
POSTER_PX = 1280
JPEG_QUALITY = 82

_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP",
                "image/heic": "HEIF", "image/heif": "HEIF"}

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
                                                f"({brief(exc)}).")
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
                                                f"its pixels cannot be decoded ({brief(exc)}).")
    return im, (width, height), exif_facts(im)  # after load(): PNG may keep EXIF after IDAT


def validate_photo(path: Path, content_type: str, max_pixels: int) -> tuple[dict, Any]:
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


def photo_derivatives(state, workdir: Path) -> list[dict]:
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


def video_poster(state, workdir: Path) -> list[dict]:
    """The poster of a video: its first key frame (from `validate_av`), upright, scaled."""
    image, rotation = state
    poster = _fit(_rotate_ccw(image, rotation), POSTER_PX)
    return [_save_jpeg(poster, workdir, "poster")]
