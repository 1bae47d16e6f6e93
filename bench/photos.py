"""How long do a photo's derivatives (thumbnail 320 px + preview 1600 px) take?

Inputs, generated: a 12-megapixel JPEG (4000×3000, quality 90, gradients and grain so it
compresses like a phone photo, EXIF Orientation=6) and the same picture as a 12-megapixel HEIC
(pillow-heif). Two pipelines on each, in the same run, N times each, alternating:

- naive: Image.open, full load(), ImageOps.exif_transpose, resize to 1600 and to 320 (bicubic,
  as Image.thumbnail, but no draft and no reduce), save both as JPEG;
- adal: server.media.photos' own steps in this process: open with formats=[...], pixel cap,
  JPEG draft (DCT scaling on decode), load, reduce + bicubic to 1600, transpose the small image,
  320 from the preview, save both as clean JPEGs (same filter and quality as naive).

Also timed: the whole `analyse()` (sniff, forkserver child, EXIF facts, files written), which is
what an upload pays. Median ms per image, and naive / adal.

    python -m bench.photos [--repeat 5]
"""
from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageChops, ImageOps

from server.media import photos, processing

SIZE = (4000, 3000)
QUALITY = photos.JPEG_QUALITY


def camera_like(size=SIZE) -> Image.Image:
    """Gradients, blotches and grain: compresses like a photo (about 3.7 MB at quality 90)."""
    w, h = size
    blotches = Image.effect_noise((w // 40, h // 40), 60).resize(size, Image.Resampling.BICUBIC)
    texture = Image.effect_noise((w // 4, h // 4), 40).resize(size, Image.Resampling.BILINEAR)
    grain = Image.effect_noise(size, 12)
    across = Image.linear_gradient("L").rotate(90).resize(size)
    down = Image.linear_gradient("L").resize(size)
    red = ImageChops.add(ImageChops.multiply(across, blotches), grain, scale=1.0, offset=-100)
    green = ImageChops.blend(down, texture, 0.5)
    blue = ImageChops.blend(ImageChops.invert(across), blotches, 0.4)
    return Image.merge("RGB", (ImageChops.blend(red, grain, 0.2),
                               ImageChops.blend(green, grain, 0.15),
                               ImageChops.blend(blue, grain, 0.1)))


def make_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    import pillow_heif
    picture = camera_like()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    jpeg = folder / "photo-12mp.jpg"
    picture.save(jpeg, "JPEG", quality=90, exif=exif.tobytes())
    heic = folder / "photo-12mp.heic"
    pillow_heif.from_pillow(picture).save(heic, quality=50, enc_params={"preset": "ultrafast"})
    return {"JPEG": (jpeg, "image/jpeg"), "HEIC": (heic, "image/heic")}


def _fit(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    scale = min(1.0, long_side / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def naive(path: Path, content_type: str) -> tuple[int, int]:
    im = Image.open(path)
    im.load()
    im = ImageOps.exif_transpose(im)
    preview = im.resize(_fit(im.size, photos.PREVIEW_PX), Image.Resampling.BICUBIC)
    thumbnail = im.resize(_fit(im.size, photos.THUMBNAIL_PX), Image.Resampling.BICUBIC)
    for out in (preview, thumbnail):
        out.save(io.BytesIO(), "JPEG", quality=QUALITY)
    return preview.size


def adal(path: Path, content_type: str) -> tuple[int, int]:
    im, _size, facts = photos.open_photo(path, content_type, 40_000_000)
    preview, thumbnail = photos.photo_derivative_images(im, facts["orientation"])
    for out in (preview, thumbnail):
        Image.frombytes(out.mode, out.size, out.tobytes()).save(io.BytesIO(), "JPEG",
                                                               quality=QUALITY)
    return preview.size


def whole_analyse(path: Path, workdir: Path) -> tuple[int, int]:
    result = processing.analyse(path, workdir=workdir)
    preview = next(d for d in result.derivatives if d.name == "preview")
    return preview.width, preview.height


def timed(work, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    photos._register_heif()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("generating a 12 MP JPEG and HEIC ...", flush=True)
        inputs = make_inputs(folder)
        whole_analyse(inputs["JPEG"][0], folder / "warm")  # start the forkserver once
        print(f"\n{args.repeat} runs each, median ms per image "
              f"(thumbnail {photos.THUMBNAIL_PX} + preview {photos.PREVIEW_PX})\n")
        print("| input | size MB | naive ms | adal ms | naive / adal | analyse() ms |")
        print("|---|---:|---:|---:|---:|---:|")
        for label, (path, content_type) in inputs.items():
            assert naive(path, content_type) == adal(path, content_type)  # same sizes out
            naive_ms, adal_ms = [], []
            for _ in range(args.repeat):  # alternate, so drift on a shared machine hits both
                naive_ms += timed(lambda: naive(path, content_type), 1)
                adal_ms += timed(lambda: adal(path, content_type), 1)
            full_ms = timed(lambda: whole_analyse(path, folder / "work"), args.repeat)
            n, a, f = (statistics.median(x) for x in (naive_ms, adal_ms, full_ms))
            print(f"| 12 MP {label} | {path.stat().st_size / 1e6:.1f} | {n:.0f} | {a:.0f} | "
                  f"{n / a:.1f}× | {f:.0f} |", flush=True)


if __name__ == "__main__":
    main()
