"""Media processing: sniffing, photo/video/audio checks, derivatives, hostile input (test plan
B1-B13, B18-B20, F16). Inputs are made here with Pillow, PyAV and raw bytes; real camera files
come from ../shared/samples/photos (tests skip when that folder is absent)."""
from __future__ import annotations

import hashlib
import io
import json
import random
import resource
import struct
import time
import wave
import zipfile
import zlib
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageOps, ImageStat

from server.media import photos, processing
from server.media.processing import Analysis, MediaRefused, analyse, sniff

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "samples" / "photos"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(),
                                   reason=f"sample photos not found at {SAMPLES}")


# ---- helpers ------------------------------------------------------------------------------------

def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(path: Path, tmp_path: Path, **kw) -> Analysis:
    """analyse() and check the things that hold for every accepted file."""
    before = sha(path)
    result = analyse(path, workdir=tmp_path / "work", **kw)
    assert sha(path) == before, "the original must never be modified"
    json.dumps(result.info)  # JSON-safe
    for d in result.derivatives:
        assert d.path.parent == tmp_path / "work" and d.path.is_file()
        assert_clean_jpeg(d.path, (d.width, d.height))
    return result


def refused(path: Path, tmp_path: Path, **kw) -> MediaRefused:
    with pytest.raises(MediaRefused) as caught:
        analyse(path, workdir=tmp_path / "work", **kw)
    return caught.value


def assert_clean_jpeg(path: Path, size: tuple[int, int]) -> None:
    """A derivative: a JPEG with pixels only (no EXIF, GPS, XMP, ICC, comment)."""
    data = path.read_bytes()
    with Image.open(path) as im:
        assert im.format == "JPEG" and im.size == size
        assert not im.getexif()
        assert not {"exif", "xmp", "icc_profile", "comment"} & im.info.keys()
    for marker in (b"Exif", b"GPS", b"http://ns.adobe.com", b"ICC_PROFILE", b"<script",
                   b"PK\x05\x06"):
        assert marker not in data, marker


def noise(size: tuple[int, int]) -> Image.Image:
    """Camera-like content: a gradient with noise, so JPEG sizes are realistic."""
    gradient = Image.linear_gradient("L").resize(size)
    grain = Image.effect_noise(size, 25)
    return Image.merge("RGB", (gradient, grain, ImageChops.invert(gradient)))


def jpeg(path: Path, im: Image.Image | None = None, *, exif: Image.Exif | None = None,
         quality: int = 90, **kw) -> Path:
    im = im if im is not None else noise((64, 48))
    extra = {"exif": exif.tobytes()} if exif is not None else {}
    im.save(path, "JPEG", quality=quality, **extra, **kw)
    return path


def marked(size=(400, 200)) -> Image.Image:
    """Blue with a red block in the top-left corner: shows where 'up' went."""
    im = Image.new("RGB", size, (0, 0, 200))
    ImageDraw.Draw(im).rectangle([0, 0, size[0] // 4, size[1] // 4], fill=(230, 0, 0))
    return im


def is_red(pixel) -> bool:
    return pixel[0] > 150 and pixel[1] < 80 and pixel[2] < 80


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean[0]


def png_with_header(path: Path, width: int, height: int, *, depth=8, colour=2,
                    idat: bytes = b"") -> Path:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))
    return path


def make_video(path: Path, *, seconds=1.0, fps=10, size=(160, 96), fmt="mp4", codec="libx264",
               rotation: int | None = None, audio: bool = False, options=None,
               metadata: dict | None = None, grainy: bool = False) -> Path:
    """A video of the marked picture (or of noise, so every frame carries data)."""
    with av.open(str(path), "w", format=fmt, options=options or {}) as out:
        if metadata:
            out.metadata.update(metadata)
        video = out.add_stream(codec, rate=fps)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        if rotation is not None:
            video.set_display_rotation(rotation)
        sound = out.add_stream("aac", rate=16000, layout="mono") if audio else None
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_image(noise(size) if grainy else marked(size))
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            encode_silence(out, sound, seconds, 16000, "fltp", "mono")
    return path


def encode_silence(out, stream, seconds, rate, sample_format, layout, chunk=1024):
    channels = 1 if layout == "mono" else 2
    width = {"s16": 2, "flt": 4, "fltp": 4, "s16p": 2}[sample_format]
    planes = channels if sample_format.endswith("p") else 1
    for i in range(int(seconds * rate) // chunk):
        frame = av.AudioFrame(format=sample_format, layout=layout, samples=chunk)
        frame.sample_rate = rate
        frame.pts = i * chunk
        for p in range(planes):
            tone = bytes(chunk * width * (channels if planes == 1 else 1))
            frame.planes[p].update(tone)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def make_audio(path: Path, *, fmt: str, codec: str, rate: int, sample_format: str,
               seconds=2.0, layout="mono") -> Path:
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        encode_silence(out, stream, seconds, rate, sample_format, layout,
                       chunk=960 if codec == "libopus" else 1152 if codec == "libmp3lame" else 1024)
    return path


# ---- sniffing: the allow-list and what is refused --------------------------------------------

def test_an_empty_file_is_refused_as_empty(tmp_path):
    path = tmp_path / "nothing.jpg"
    path.write_bytes(b"")
    err = refused(path, tmp_path)
    assert (err.status, err.code) == (422, "empty_file")


@pytest.mark.parametrize("name, body, named", [
    ("photo.svg", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">'
                  b'<script>alert(document.cookie)</script></svg>', "SVG"),
    ("photo.jpg", b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", "HTML"),
    ("notes.jpg", "Протокол посещения: всё в порядке.\n".encode() * 20, "plain text"),
    ("doc.png", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n", "PDF"),
    ("x.jpg", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n", "EPS"),
    ("x.jpg", b"SIMPLE  =                    T" + b" " * 50 + b"END" + b" " * 2797
              + bytes(64), "FITS"),
    ("x.jpg", b"\xff\xfe\x00\x10\x00\x10\x01" + bytes(300), "GD"),
    ("x.jpg", b"gd2\x00\x00\x02\x00\x10\x00\x10" + bytes(300), "GD2"),
    ("x.jpg", b"\xb1\x68\xde\x3a" + bytes(300), "DCX"),
    ("x.mp4", b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska" + bytes(64),
     "Matroska"),
    ("x.ogg", b"OggS\x00\x02" + bytes(20) + b"\x01\x1e\x7fFLAC" + bytes(64), "FLAC"),
    ("x.heic", b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(64), "AVIF"),
])
def test_types_outside_the_allow_list_are_refused_naming_what_was_found(tmp_path, name, body,
                                                                        named):
    path = tmp_path / name
    path.write_bytes(body)
    err = refused(path, tmp_path)
    assert (err.status, err.code) == (415, "type_not_allowed")
    assert named in err.detail and named in err.detected
    assert "accepted:" in err.detail


def test_a_zip_is_refused_as_zip(tmp_path):
    path = tmp_path / "evidence.jpg"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("photo.jpg", b"\xff\xd8\xff" + bytes(100))
    err = refused(path, tmp_path)
    assert err.status == 415 and "ZIP" in err.detail


@pytest.mark.parametrize("fmt, named", [("GIF", "GIF"), ("BMP", "BMP"), ("TIFF", "TIFF"),
                                        ("PDF", "PDF"), ("ICO", "icon"), ("PCX", "PCX")])
def test_image_formats_pillow_could_decode_never_reach_a_decoder(tmp_path, fmt, named):
    path = tmp_path / "photo.jpg"
    noise((32, 32)).save(path, fmt)
    err = refused(path, tmp_path)
    assert err.status == 415 and named in err.detail


def test_pillow_is_asked_for_the_sniffed_format_only(tmp_path, monkeypatch):
    """B13: even in the decoding code, Image.open gets formats=[the one format sniffed]."""
    seen = []
    real_open = Image.open

    def spy(fp, mode="r", formats=None):
        seen.append(formats)
        return real_open(fp, mode, formats)

    monkeypatch.setattr(Image, "open", spy)
    path = jpeg(tmp_path / "a.jpg")
    photos.open_photo(path, "image/jpeg", 40_000_000)
    assert seen == [["JPEG"]]


def test_random_bytes_named_mp4_are_refused(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(random.Random(7).randbytes(50_000))
    err = refused(path, tmp_path)
    assert (err.status, err.code) == (415, "type_not_allowed")
    assert "unrecognised binary data" in err.detail


def test_random_bytes_behind_an_mp4_header_are_unreadable_media(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
                     + random.Random(8).randbytes(50_000))
    err = refused(path, tmp_path)
    assert (err.status, err.code) == (422, "unreadable_media")


@pytest.mark.parametrize("head, expected", [
    (b"\xff\xd8\xff\xe0", ("photo", "image/jpeg")),
    (b"\x89PNG\r\n\x1a\n", ("photo", "image/png")),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", ("photo", "image/webp")),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", ("photo", "image/heic")),
    (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", ("photo", "image/heic")),
    (b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1", ("photo", "image/heif")),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", ("video", "video/quicktime")),
    (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", ("video", "video/mp4")),
    (b"\x00\x00\x00\x18ftypMSNV\x00\x00\x00\x00MSNVmp42", ("video", "video/mp4")),
    (b"\x00\x00\x00\x14ftyp3gp4\x00\x00\x00\x003gp4", ("video", "video/3gpp")),
    (b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A isom", ("audio", "audio/mp4")),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", ("video", "video/webm")),
    (b"OggS\x00\x02" + bytes(20) + b"\x01\x13OpusHead", ("audio", "audio/ogg")),
    (b"OggS\x00\x02" + bytes(20) + b"\x01\x1e\x01vorbis", ("audio", "audio/ogg")),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00", ("audio", "audio/mpeg")),
    (b"\xff\xf1\x50\x80\x02\x1f\xfc", ("audio", "audio/aac")),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", ("audio", "audio/wav")),
])
def test_sniff_recognises_the_allow_list_from_magic_bytes(tmp_path, head, expected):
    path = tmp_path / "upload.bin"
    path.write_bytes(head + bytes(64))
    assert sniff(path) == expected


def test_a_refusal_keeps_status_code_and_detail_and_pickles():
    import pickle
    err = pickle.loads(pickle.dumps(MediaRefused("image_too_large", "too big")))
    assert (err.status, err.code, err.detail) == (422, "image_too_large", "too big")
    assert MediaRefused("type_not_allowed", "x").status == 415


# ---- photos: bombs, truncation ----------------------------------------------------------------

def test_png_bomb_is_refused_before_decoding(tmp_path):
    """B1: 20000×20000 1-bit, a few tens of KB; refused from the header, fast, without memory."""
    rows = zlib.compressobj(9)
    row = b"\x00" * (1 + 20000 // 8)
    idat = b"".join(rows.compress(row) for _ in range(20000)) + rows.flush()
    path = png_with_header(tmp_path / "bomb.png", 20000, 20000, depth=1, colour=0, idat=idat)
    assert path.stat().st_size < 100_000
    started = time.monotonic()
    err = refused(path, tmp_path)
    assert (err.status, err.code) == (422, "image_too_large")
    assert time.monotonic() - started < 5
    # The same check in this process: no 50 MB of pixels is ever allocated.
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(MediaRefused) as caught:
        photos.open_photo(path, "image/png", 40_000_000)
    assert caught.value.code == "image_too_large"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 50_000  # KiB


def test_a_100_megapixel_png_is_refused_by_the_pixel_cap(tmp_path):
    """B2: Pillow only warns at 100 MP; the app's 40 MP cap refuses it."""
    path = png_with_header(tmp_path / "big.png", 10000, 10000, idat=zlib.compress(b"\x00" * 100))
    err = refused(path, tmp_path)
    assert (err.status, err.code) == (422, "image_too_large")
    assert "40" in err.detail


def test_the_pixel_cap_is_a_parameter(tmp_path):
    path = jpeg(tmp_path / "a.jpg", noise((300, 200)))
    assert refused(path, tmp_path, max_pixels=50_000).code == "image_too_large"
    assert run(path, tmp_path, max_pixels=60_000).width == 300


def test_decompression_bomb_warning_is_an_error_only_inside_the_module(tmp_path):
    import warnings
    filters = list(warnings.filters)
    path = png_with_header(tmp_path / "big.png", 10000, 10000, idat=zlib.compress(b"\x00" * 100))
    with pytest.raises(MediaRefused) as caught:
        photos.open_photo(path, "image/png", 200_000_000)  # over Pillow's own warning level
    assert caught.value.code == "image_too_large"
    assert warnings.filters == filters


def test_a_truncated_jpeg_is_refused_as_corrupt(tmp_path):
    """B3: the first half of a JPEG passes verify() but not a full decode."""
    whole = jpeg(tmp_path / "whole.jpg", noise((800, 600))).read_bytes()
    path = tmp_path / "half.jpg"
    path.write_bytes(whole[: len(whole) // 2])
    with Image.open(path) as im:
        im.verify()  # the trap: this passes
    err = refused(path, tmp_path)
    assert (err.status, err.code) == (422, "corrupt_image")
    assert "truncated" in err.detail


def test_a_jpeg_header_with_garbage_after_it_is_corrupt(tmp_path):
    path = tmp_path / "bad.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + random.Random(3).randbytes(5000))
    assert refused(path, tmp_path).code == "corrupt_image"


def test_a_truncated_png_is_refused_as_corrupt(tmp_path):
    buf = io.BytesIO()
    noise((300, 300)).save(buf, "PNG")
    path = tmp_path / "half.png"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    assert refused(path, tmp_path).code == "corrupt_image"


# ---- photos: derivatives, orientation, metadata -------------------------------------------------

def test_a_jpeg_gets_a_thumbnail_and_a_preview_scaled_on_the_long_side(tmp_path):
    path = jpeg(tmp_path / "wide.jpg", noise((3000, 2000)))
    result = run(path, tmp_path)
    assert (result.kind, result.content_type, result.width, result.height) == (
        "photo", "image/jpeg", 3000, 2000)
    sizes = {d.name: (d.width, d.height) for d in result.derivatives}
    assert sizes == {"thumbnail": (320, 213), "preview": (1600, 1067)}
    assert all(d.content_type == "image/jpeg" for d in result.derivatives)
    assert result.derivative_error is None and result.duration is None
    assert not result.duration_claimed


def test_small_photos_are_not_enlarged(tmp_path):
    result = run(jpeg(tmp_path / "small.jpg", noise((200, 100))), tmp_path)
    assert {d.name: (d.width, d.height) for d in result.derivatives} == {
        "thumbnail": (200, 100), "preview": (200, 100)}


def test_exif_orientation_6_gives_an_upright_thumbnail(tmp_path):
    """B6: stored 400×200 with Orientation=6 is shown 200×400, the top-left corner at top-right."""
    exif = Image.Exif()
    exif[0x0112] = 6
    path = jpeg(tmp_path / "turned.jpg", marked((400, 200)), exif=exif)
    result = run(path, tmp_path)
    assert (result.width, result.height) == (200, 400)
    assert result.info["exif_orientation"] == 6
    thumb = next(d for d in result.derivatives if d.name == "thumbnail")
    with Image.open(thumb.path) as im:
        assert im.size == (160, 320)
        assert is_red(im.getpixel((im.width - 10, 10)))       # top-right
        assert not is_red(im.getpixel((10, 10)))
        assert not is_red(im.getpixel((im.width - 10, im.height - 10)))


def test_a_polyglot_jpeg_is_accepted_and_its_derivatives_are_clean(tmp_path):
    """B9: JPEG + <script> + ZIP appended: accepted as JPEG; derivatives are re-encoded."""
    tail = io.BytesIO()
    with zipfile.ZipFile(tail, "w") as z:
        z.writestr("evil.html", "<script>alert(1)</script>")
    path = tmp_path / "polyglot.jpg"
    path.write_bytes(jpeg(tmp_path / "a.jpg", noise((500, 400))).read_bytes()
                     + b"<script>alert(document.domain)</script>" + tail.getvalue())
    assert sniff(path) == ("photo", "image/jpeg")
    result = run(path, tmp_path)  # run() checks the derivatives carry no <script> and no ZIP
    assert len(result.derivatives) == 2
    for d in result.derivatives:
        assert d.path.read_bytes().endswith(b"\xff\xd9")


def test_camera_identity_and_position_never_reach_derivatives_or_info(tmp_path):
    """B8: serial number, make/model, GPS, XMP: none of them in derivatives; no identity in info."""
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 5D Mark IV"
    exif[0x0131] = "Firmware 1.2.3"
    exif[0x013B] = "Inspector Ivanova"
    sub = exif.get_ifd(0x8769)
    sub[0xA431] = "SN-0123456789"
    sub[0xA430] = "Ivanova"
    sub[0xA435] = "LENS-SERIAL-42"
    sub[0x9003] = "2026:11:02 10:15:00"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (51.0, 10.0, 12.0), 3: "E", 4: (71.0, 26.0, 30.0)})
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
           b'02/22-rdf-syntax-ns#"><rdf:Description aux:SerialNumber="SN-0123456789"/>'
           b"</rdf:RDF></x:xmpmeta>")
    path = jpeg(tmp_path / "camera.jpg", noise((640, 480)), exif=exif, xmp=xmp)
    assert b"SN-0123456789" in path.read_bytes()
    result = run(path, tmp_path)
    assert result.gps_status == "valid" and result.gps == pytest.approx((51.17, 71.4417), abs=1e-3)
    dumped = json.dumps(result.info)
    for secret in ("Canon", "EOS", "SN-0123456789", "Ivanova", "LENS-SERIAL", "Firmware"):
        assert secret not in dumped
    for d in result.derivatives:
        data = d.path.read_bytes()
        for secret in (b"Canon", b"SN-0123456789", b"Ivanova", b"LENS-SERIAL", b"xmpmeta"):
            assert secret not in data


def test_gps_out_of_range_is_invalid_not_an_error(tmp_path):
    """B7: lat 999°, ref 'Q', lon 500°: accepted, GPS invalid and not given."""
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "Q", 2: (999.0, 0.0, 0.0), 3: "E", 4: (500.0, 0.0, 0.0)})
    result = run(jpeg(tmp_path / "gps.jpg", exif=exif), tmp_path)
    assert (result.gps_status, result.gps) == ("invalid", None)
    assert len(result.derivatives) == 2


@pytest.mark.parametrize("gps, status", [
    ({1: "N", 2: (Fraction(1, 1), 0.0, 0.0), 3: "E"}, "invalid"),             # no longitude
    ({1: "S", 2: (10.0, 61.0, 0.0), 3: "W", 4: (20.0, 0.0, 0.0)}, "invalid"),  # 61 minutes
    ({1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (0.0, 0.0, 0.0)}, "invalid"),     # no fix
    ({1: "N", 2: (10.0, 0.0, 0.0), 3: "E", 4: (20.0, 0.0, 0.0), 9: "V"}, "invalid"),
    ({0: b"\x02\x02\x00\x00"}, "absent"),                                      # version only
    ({1: "S", 2: (33.0, 52.0, 4.0), 3: "W", 4: (151.0, 12.0, 36.0)}, "valid"),
])
def test_gps_is_read_strictly(tmp_path, gps, status):
    exif = Image.Exif()
    exif.get_ifd(0x8825).update(gps)
    result = run(jpeg(tmp_path / "gps.jpg", exif=exif), tmp_path)
    assert result.gps_status == status
    if status == "valid":
        assert result.gps == pytest.approx((-33.8678, -151.21), abs=1e-3)
    else:
        assert result.gps is None


def test_a_zero_denominator_in_gps_is_invalid(tmp_path):
    from PIL.TiffImagePlugin import IFDRational
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (IFDRational(1, 0), 0.0, 0.0), 3: "E",
                                 4: (20.0, 0.0, 0.0)})
    assert run(jpeg(tmp_path / "gps.jpg", exif=exif), tmp_path).gps_status == "invalid"


def test_broken_exif_never_raises(tmp_path):
    """A JPEG whose APP1 EXIF segment is garbage: accepted, no facts, no exception."""
    good = jpeg(tmp_path / "a.jpg", noise((100, 80))).read_bytes()
    junk = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + random.Random(5).randbytes(200)
    path = tmp_path / "broken.jpg"
    path.write_bytes(good[:2] + b"\xff\xe1" + struct.pack(">H", len(junk) + 2) + junk + good[2:])
    result = run(path, tmp_path)
    assert result.gps_status in ("absent", "invalid") and result.captured_at is None
    assert len(result.derivatives) == 2


def test_capture_time_with_offset_is_aware(tmp_path):
    exif = Image.Exif()
    sub = exif.get_ifd(0x8769)
    sub.update({0x9003: "2026:11:02 10:15:30", 0x9011: "+05:00", 0x9291: "25"})
    result = run(jpeg(tmp_path / "t.jpg", exif=exif), tmp_path)
    assert result.captured_at == datetime(2026, 11, 2, 10, 15, 30, 250000,
                                          tzinfo=timezone(timedelta(hours=5)))
    assert result.info["captured_at_offset_known"] is True


def test_capture_time_without_offset_is_taken_as_utc_and_says_so(tmp_path):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2026:11:02 10:15:30"
    result = run(jpeg(tmp_path / "t.jpg", exif=exif), tmp_path)
    assert result.captured_at == datetime(2026, 11, 2, 10, 15, 30, tzinfo=timezone.utc)
    assert result.info["captured_at_offset_known"] is False


@pytest.mark.parametrize("raw", ["0000:00:00 00:00:00", "    :  :     :  :  ",
                                 "2026:13:45 99:00:00", "yesterday"])
def test_an_unusable_capture_time_is_absent(tmp_path, raw):
    exif = Image.Exif()
    exif.get_ifd(0x8769).update({0x9003: raw, 0x9011: "+99:99"})
    assert run(jpeg(tmp_path / "t.jpg", exif=exif), tmp_path).captured_at is None


def test_png_with_alpha_and_16_bit_png_and_webp_are_accepted(tmp_path):
    rgba = noise((120, 90)).convert("RGBA")
    rgba.putalpha(Image.new("L", (120, 90), 0))
    rgba.save(tmp_path / "alpha.png")
    result = run(tmp_path / "alpha.png", tmp_path)
    with Image.open(result.derivatives[0].path) as im:
        assert im.mode == "RGB" and im.getpixel((5, 5)) >= (250, 250, 250)  # white, not black
    Image.linear_gradient("L").resize((300, 40)).convert("I;16").save(tmp_path / "deep.png")
    assert run(tmp_path / "deep.png", tmp_path).content_type == "image/png"
    noise((200, 150)).save(tmp_path / "a.webp", "WEBP")
    assert run(tmp_path / "a.webp", tmp_path).content_type == "image/webp"


@pytest.mark.parametrize("mode, fmt", [("L", "JPEG"), ("CMYK", "JPEG"), ("P", "PNG"),
                                       ("LA", "PNG"), ("1", "PNG"), ("RGBA", "WEBP")])
def test_every_pixel_mode_gives_plain_jpeg_derivatives(tmp_path, mode, fmt):
    path = tmp_path / f"odd.{fmt.lower()}"
    noise((90, 60)).convert(mode).save(path, fmt)
    result = run(path, tmp_path)
    for d in result.derivatives:
        with Image.open(d.path) as im:
            assert im.mode in ("RGB", "L") and im.size == (90, 60)


def test_a_heic_made_by_pillow_heif_is_processed(tmp_path):
    import pillow_heif
    heif = pillow_heif.from_pillow(noise((640, 480)))
    heif.save(tmp_path / "phone.heic", quality=60)
    assert (tmp_path / "phone.heic").read_bytes()[4:12] == b"ftypheic"
    result = run(tmp_path / "phone.heic", tmp_path)
    assert (result.content_type, result.width, result.height) == ("image/heic", 640, 480)
    assert {d.name for d in result.derivatives} == {"thumbnail", "preview"}


# ---- the real camera samples -----------------------------------------------------------------

@needs_samples
def test_sample_nikon_gps_and_capture_time(tmp_path):
    result = run(SAMPLES / "DSCN0010.jpg", tmp_path)
    assert result.gps_status == "valid"
    assert result.gps == pytest.approx((43.4674, 11.8851), abs=1e-3)  # Tuscany
    assert result.captured_at == datetime(2008, 10, 22, 16, 28, 39, tzinfo=timezone.utc)
    assert result.info["captured_at_offset_known"] is False
    assert "NIKON" not in json.dumps(result.info).upper()


@pytest.mark.parametrize("name, size", [("landscape_6.jpg", (600, 450)),
                                        ("portrait_5.jpg", (450, 600))])
@needs_samples
def test_sample_orientations_come_out_upright(tmp_path, name, size):
    result = run(SAMPLES / name, tmp_path)
    assert (result.width, result.height) == size
    preview = next(d for d in result.derivatives if d.name == "preview")
    with Image.open(SAMPLES / name) as original:  # Pillow's own transpose, then into sRGB
        profile = ImageCms.ImageCmsProfile(io.BytesIO(original.info["icc_profile"]))
        reference = ImageCms.profileToProfile(ImageOps.exif_transpose(original), profile,
                                              ImageCms.createProfile("sRGB"))
    with Image.open(preview.path) as im:
        assert im.size == reference.size == size
        assert mean_difference(im, reference) < 4  # the same picture, re-encoded
        for wrong in (ImageOps.flip(reference), ImageOps.mirror(reference),
                      reference.rotate(180)):
            assert mean_difference(im, wrong) > 30


@needs_samples
def test_sample_without_gps_is_absent(tmp_path):
    result = run(SAMPLES / "Canon_40D.jpg", tmp_path)
    assert (result.gps_status, result.gps) == ("absent", None)
    assert result.captured_at == datetime(2008, 5, 30, 15, 56, 1, tzinfo=timezone.utc)
    assert "Canon" not in json.dumps(result.info)


@needs_samples
def test_sample_heif_gets_a_thumbnail(tmp_path):
    """B5: a HEIF still from a phone: accepted, thumbnail through pillow-heif, original intact."""
    result = run(SAMPLES / "samplefilehub.heif", tmp_path)
    assert (result.kind, result.content_type) == ("photo", "image/heic")
    assert (result.width, result.height) == (640, 426)
    thumb = next(d for d in result.derivatives if d.name == "thumbnail")
    assert (thumb.width, thumb.height) == (320, 213)


# ---- video --------------------------------------------------------------------------------------

def test_a_small_mp4_gets_duration_codec_and_a_poster(tmp_path):
    path = make_video(tmp_path / "clip.mp4", seconds=2, audio=True,
                      metadata={"creation_time": "2026-11-02T05:15:00.000000Z",
                                "location": "+51.1694+071.4491/"})
    result = run(path, tmp_path)
    assert (result.kind, result.content_type) == ("video", "video/mp4")
    assert result.duration == pytest.approx(2.0, abs=0.1) and not result.duration_claimed
    assert (result.width, result.height) == (160, 96)
    assert result.info["video_codec"] == "h264" and result.info["audio_codec"] == "aac"
    assert result.info["container"] == "mp4" and result.info["rotation"] == 0
    assert result.captured_at == datetime(2026, 11, 2, 5, 15, tzinfo=timezone.utc)
    assert result.gps_status == "valid" and result.gps == pytest.approx((51.1694, 71.4491))
    (poster,) = result.derivatives
    assert (poster.name, poster.content_type, poster.width, poster.height) == (
        "poster", "image/jpeg", 160, 96)
    with Image.open(poster.path) as im:
        assert is_red(im.getpixel((5, 5))) and not is_red(im.getpixel((150, 90)))


def test_a_rotated_video_gets_an_upright_poster(tmp_path):
    """Display matrix 90° counter-clockwise (the 'rotate' tag says 270): poster turned."""
    path = make_video(tmp_path / "portrait.mp4", rotation=90)
    result = run(path, tmp_path)
    assert (result.width, result.height) == (96, 160)
    assert result.info["rotation"] == 270
    (poster,) = result.derivatives
    with Image.open(poster.path) as im:
        assert im.size == (96, 160)
        assert is_red(im.getpixel((5, im.height - 5)))  # top-left went to bottom-left
        assert not is_red(im.getpixel((5, 5)))


def test_a_webm_video_is_accepted(tmp_path):
    path = make_video(tmp_path / "clip.webm", fmt="webm", codec="libvpx-vp9", seconds=1)
    result = run(path, tmp_path)
    assert (result.kind, result.content_type, result.info["video_codec"]) == (
        "video", "video/webm", "vp9")
    assert result.duration == pytest.approx(1.0, abs=0.15)


def test_an_mp4_that_lost_its_moov_is_unreadable(tmp_path):
    """B18: moov at the end, the file cut before it."""
    whole = make_video(tmp_path / "whole.mp4", seconds=2).read_bytes()
    assert whole.find(b"moov") > whole.find(b"mdat")
    path = tmp_path / "cut.mp4"
    path.write_bytes(whole[: whole.find(b"moov") - 4])
    err = refused(path, tmp_path)
    assert (err.status, err.code) == (422, "unreadable_media")
    assert str(tmp_path) not in err.detail  # no server paths in what the client reads


def test_a_header_claiming_ten_hours_in_a_tiny_file_is_marked_claimed(tmp_path):
    """B19: every header says 10 h (mvhd, tkhd, mdhd, edit list) and the sample table gives each
    of the 30 frames 20 minutes: recorded, but as 'claimed'."""
    data = bytearray(make_video(tmp_path / "real.mp4", seconds=3).read_bytes())

    def u32(box: bytes, offset: int, value: int | None = None) -> int:
        at = data.find(box) + offset
        if value is not None:
            data[at:at + 4] = struct.pack(">I", value)
        return struct.unpack(">I", data[at:at + 4])[0]

    movie_scale, track_scale = u32(b"mvhd", 16), u32(b"mdhd", 16)
    assert u32(b"stts", 8) == 1 and u32(b"stts", 12) == 30  # one run of 30 frames
    u32(b"stts", 16, 1200 * track_scale)
    for box, offset, scale in ((b"mvhd", 20, movie_scale), (b"tkhd", 24, movie_scale),
                               (b"elst", 12, movie_scale), (b"mdhd", 20, track_scale)):
        u32(box, offset, 36000 * scale)
    path = tmp_path / "ten_hours.mp4"
    path.write_bytes(bytes(data))
    started = time.monotonic()
    result = run(path, tmp_path)
    assert time.monotonic() - started < 10
    assert result.duration == pytest.approx(36000, rel=0.01)
    assert result.duration_claimed is True
    assert len(result.derivatives) == 1


def test_a_header_longer_than_the_data_is_marked_claimed(tmp_path):
    """moov first (faststart) promises 10 s; the file holds the first quarter of the data."""
    whole = make_video(tmp_path / "whole.mp4", seconds=10, options={"movflags": "faststart"},
                       size=(64, 48), grainy=True).read_bytes()
    assert whole.find(b"moov") < whole.find(b"mdat")
    path = tmp_path / "cut.mp4"
    mdat = whole.find(b"mdat")
    path.write_bytes(whole[: mdat + (len(whole) - mdat) // 4])
    result = run(path, tmp_path)
    assert result.duration == pytest.approx(10, abs=0.2) and result.duration_claimed
    assert result.info["duration_observed"] < 5


@pytest.mark.parametrize("name, fmt, codec, rate, sample_format, sniffed, content_type", [
    ("voice.mp4", "mp4", "aac", 16000, "fltp", "video/mp4", "audio/mp4"),
    ("voice.3gp", "3gp", "aac", 16000, "fltp", "video/3gpp", "audio/3gpp"),
    ("voice.webm", "webm", "libopus", 48000, "s16", "video/webm", "audio/webm"),
])
def test_a_video_container_with_only_audio_is_audio(tmp_path, name, fmt, codec, rate,
                                                    sample_format, sniffed, content_type):
    path = make_audio(tmp_path / name, fmt=fmt, codec=codec, rate=rate,
                      sample_format=sample_format)
    assert sniff(path) == ("video", sniffed)
    result = run(path, tmp_path)
    assert (result.kind, result.content_type, result.derivatives) == ("audio", content_type, [])
    assert result.duration == pytest.approx(2.0, abs=0.15)


# ---- audio --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, fmt, codec, rate, sample_format, content_type, codec_name", [
    ("voice.m4a", "ipod", "aac", 44100, "fltp", "audio/mp4", "aac"),
    ("voice.ogg", "ogg", "libopus", 48000, "s16", "audio/ogg", "opus"),
    ("voice.mp3", "mp3", "libmp3lame", 44100, "s16p", "audio/mpeg", "mp3"),
    ("voice.wav", "wav", "pcm_s16le", 16000, "s16", "audio/wav", "pcm_s16le"),
])
def test_audio_gets_duration_codec_and_no_derivatives(tmp_path, name, fmt, codec, rate,
                                                      sample_format, content_type, codec_name):
    """B20: M4A/AAC, Opus, MP3, WAV: accepted with their duration."""
    path = make_audio(tmp_path / name, fmt=fmt, codec=codec, rate=rate,
                      sample_format=sample_format, seconds=2.0)
    result = run(path, tmp_path)
    assert (result.kind, result.content_type) == ("audio", content_type)
    assert result.info["audio_codec"].startswith(codec_name)
    assert result.info["sample_rate"] == rate and result.info["channels"] == 1
    assert result.duration == pytest.approx(2.0, abs=0.15) and not result.duration_claimed
    assert result.derivatives == [] and result.width is None


def test_a_wav_written_by_the_standard_library(tmp_path):
    path = tmp_path / "note.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(8000 * 4 * 3))
    result = run(path, tmp_path)
    assert result.duration == pytest.approx(3.0, abs=0.01) and result.info["channels"] == 2


def test_a_wav_header_claiming_more_data_than_the_file_has_is_not_believed(tmp_path):
    path = tmp_path / "liar.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(16000))  # one second
    data = bytearray(path.read_bytes())
    data[40:44] = struct.pack("<I", 8000 * 2 * 36000)  # the data chunk 'holds' ten hours
    path.write_bytes(bytes(data))
    result = run(path, tmp_path)  # FFmpeg bounds the data chunk by the file's size
    assert result.duration == pytest.approx(1.0, abs=0.05) and not result.duration_claimed


# ---- hostile input: the decoding child hangs or crashes (F16) --------------------------------

@pytest.mark.parametrize("action", ["sleep", "abort", "segv"])
def test_a_child_failing_while_validating_refuses_the_file_and_the_parent_lives(
        tmp_path, monkeypatch, action):
    path = jpeg(tmp_path / "a.jpg")
    monkeypatch.setenv(processing.FAULT_ENV, f"validate:{action}")
    started = time.monotonic()
    err = refused(path, tmp_path, timeout=2)
    assert (err.status, err.code) == (422, "unreadable_media")
    assert ("timed out" if action == "sleep" else "crashed") in err.detail
    assert time.monotonic() - started < 10
    monkeypatch.delenv(processing.FAULT_ENV)
    assert len(run(path, tmp_path).derivatives) == 2  # the parent still works


@pytest.mark.parametrize("action", ["sleep", "abort", "raise"])
def test_a_child_failing_while_making_derivatives_keeps_the_analysis(tmp_path, monkeypatch,
                                                                     action):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2026:11:02 10:15:30"
    path = jpeg(tmp_path / "a.jpg", noise((300, 200)), exif=exif)
    monkeypatch.setenv(processing.FAULT_ENV, f"derivatives:{action}")
    result = run(path, tmp_path, timeout=2)
    assert (result.kind, result.width, result.height) == ("photo", 300, 200)
    assert result.captured_at is not None
    assert result.derivatives == [] and result.derivative_error
    assert {"sleep": "timed out", "abort": "crashed", "raise": "failed"}[action] \
        in result.derivative_error
    assert not list((tmp_path / "work").glob("*.jpg*"))


def test_a_video_child_crash_while_making_the_poster_keeps_the_analysis(tmp_path, monkeypatch):
    path = make_video(tmp_path / "clip.mp4")
    monkeypatch.setenv(processing.FAULT_ENV, "derivatives:abort")
    result = run(path, tmp_path)
    assert result.kind == "video" and result.duration == pytest.approx(1.0, abs=0.1)
    assert result.derivatives == [] and "crashed" in result.derivative_error
