"""What a file is, decided from its bytes only (never its name or the client's Content-Type).

`sniff()` reads the first few kilobytes and matches them against a small explicit table of magic
numbers for the evidence allow-list (DESIGN "Evidence"). Anything else is refused with 415
`type_not_allowed`, and the refusal names what the bytes look like (SVG, HTML, ZIP, PDF, text,
FITS, ...), so an inspector or an admin can tell why. Sniffing only *classifies*: the decoders in
`server.media.processing` then prove the file really is what its first bytes claim.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

HEAD_BYTES = 8192
ACCEPTED = ("JPEG, PNG, HEIC/HEIF, WebP photos; MP4/MOV, WebM video; "
            "M4A/AAC, MP3, Ogg (Opus/Vorbis), WAV audio")

_STATUS = {"type_not_allowed": 415, "empty_file": 422, "image_too_large": 422,
           "corrupt_image": 422, "unreadable_media": 422}


class MediaRefused(Exception):
    """The file is not acceptable evidence. `status` (415/422), `code` (slug), `detail` (sentence).

    Built as `MediaRefused(code, detail)`; the status follows from the code. `detected` names the
    type the bytes were recognised as, when that is known (415 refusals).
    """

    def __init__(self, code: str | int, detail: str = "", status: int | str | None = None, *,
                 detected: str | None = None):
        if isinstance(code, int):  # also accept MediaRefused(status, code, detail)
            code, detail, status = str(detail), str(status or ""), code
        self.code = code
        self.status = int(status) if status is not None else _STATUS.get(code, 422)
        self.detail = detail or code.replace("_", " ")
        self.detected = detected
        super().__init__(self.detail)

    def __reduce__(self):
        return (_rebuild_refusal, (self.code, self.detail, self.status, self.detected))

    def __repr__(self) -> str:
        return f"MediaRefused({self.status}, {self.code!r}, {self.detail!r})"


def _rebuild_refusal(code, detail, status, detected):
    return MediaRefused(code, detail, status, detected=detected)


def refuse_type(detected: str) -> MediaRefused:
    return MediaRefused("type_not_allowed",
                        f"The file's bytes are {detected}, which is not an accepted evidence type "
                        f"(accepted: {ACCEPTED}).", detected=detected)


def brief(exc: BaseException) -> str:
    """'Type: first line of the message', without server paths (PyAV names the file)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = re.sub(r"""(:\s*)?['"]?(?<![\w.])/[^\s'"]*['"]?""", "", text)[:200].strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- the allow-list --------------------------------------------------------------------------

# ISO base media (ftyp) brands. HEIF family first: a file is a photo when its major brand is one.
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_HEIF_GENERIC = {b"mif1", b"msf1", b"mif2", b"miaf"}
_AUDIO_BRANDS = {b"M4A ", b"M4B "}
_QT_BRANDS = {b"qt  "}
_3GP_BRANDS = {b"3gp4", b"3gp5", b"3gp6", b"3gp7", b"3ge6", b"3ge7", b"3gg6", b"3g2a", b"3g2b",
               b"3g2c"}
_MP4_BRANDS = {b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9",
               b"mp41", b"mp42", b"mp71", b"avc1", b"M4V ", b"M4VH", b"M4VP", b"dash", b"MSNV",
               b"XAVC", b"f4v ", b"mmp4"}
_REFUSED_BRANDS = {b"avif": "an AVIF image (image/avif)", b"avis": "an AVIF image sequence",
                   b"crx ": "a Canon RAW photo (CR3)", b"jp2 ": "a JPEG 2000 image",
                   b"jpx ": "a JPEG 2000 image", b"mjp2": "a Motion JPEG 2000 video",
                   b"M4P ": "a copy-protected iTunes audio file (M4P)",
                   b"jxl ": "a JPEG XL image (image/jxl)"}
# QuickTime files from old cameras may start with another top-level atom instead of `ftyp`.
_QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def sniff(path: Path | str) -> tuple[str, str]:
    """(kind, content_type) from the bytes; raises MediaRefused for empty or non-allow-listed files.

    `kind` is 'photo', 'video' or 'audio'. For the ISO/WebM containers it is the container's usual
    kind: `processing.analyse()` refines it from the streams (an MP4 holding only audio is audio).
    """
    path = Path(path)
    if os.stat(path).st_size == 0:
        raise MediaRefused("empty_file", "The file is empty (0 bytes).")
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    found = _accepted(head)
    if found is None:
        raise refuse_type(describe(head))
    if isinstance(found, str):
        raise refuse_type(found)
    return found


def _accepted(head: bytes) -> tuple[str, str] | str | None:
    """The allow-listed (kind, type); a str names a recognised but refused type; None: unknown."""
    if head[:3] == b"\xff\xd8\xff":
        return ("photo", "image/jpeg")
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return ("photo", "image/png")
    if head[:4] in (b"RIFF", b"RF64") and len(head) >= 12:
        sub = head[8:12]
        if sub == b"WEBP" and head[:4] == b"RIFF":
            return ("photo", "image/webp")
        if sub == b"WAVE":
            return ("audio", "audio/wav")
        if sub == b"AVI ":
            return "an AVI video (video/x-msvideo)"
        return f"a RIFF container of type {_printable(sub)!r}"
    if head[4:8] == b"ftyp":
        return _iso_bmff(head)
    if head[4:8] in _QT_ATOMS and int.from_bytes(head[:4], "big") >= 8:
        return ("video", "video/quicktime")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _ebml(head)
    if head[:4] == b"OggS":
        return _ogg(head)
    if head[:3] == b"ID3":
        return _after_id3(head)
    if len(head) >= 4 and head[0] == 0xFF:
        return _mpeg_audio(head)
    return None


def _iso_bmff(head: bytes) -> tuple[str, str] | str:
    size = int.from_bytes(head[:4], "big")
    end = min(max(size, 16), len(head))
    major = head[8:12]
    brands = {major} | {head[i:i + 4] for i in range(16, end - 3, 4)}
    if major in _REFUSED_BRANDS:
        return _REFUSED_BRANDS[major]
    if major in _HEIC_BRANDS or (major in _HEIF_GENERIC and brands & _HEIC_BRANDS):
        return ("photo", "image/heic")
    if major in _HEIF_GENERIC:
        if brands & {b"avif", b"avis"}:
            return _REFUSED_BRANDS[b"avif"]
        return ("photo", "image/heif")
    if major in _AUDIO_BRANDS:
        return ("audio", "audio/mp4")
    if major in _QT_BRANDS:
        return ("video", "video/quicktime")
    if major in _3GP_BRANDS:
        return ("video", "video/3gpp")
    if major in _MP4_BRANDS or brands & _MP4_BRANDS:
        return ("video", "video/mp4")
    if brands & _QT_BRANDS:
        return ("video", "video/quicktime")
    return f"an ISO media file of brand {_printable(major)!r}"


def _ebml(head: bytes) -> tuple[str, str] | str:
    at = head.find(b"\x42\x82", 4, 64)  # EBML DocType element
    doctype = b""
    if at >= 0 and at + 3 < len(head) and head[at + 2] & 0x80:
        length = head[at + 2] & 0x7F
        doctype = head[at + 3:at + 3 + length]
    if doctype == b"webm":
        return ("video", "video/webm")
    if doctype == b"matroska":
        return "a Matroska video (video/x-matroska)"
    return "an EBML/Matroska container of unknown type"


def _ogg(head: bytes) -> tuple[str, str] | str:
    if len(head) < 28:
        return "a truncated Ogg container"
    packet = head[27 + head[26]:]
    if packet.startswith(b"OpusHead") or packet.startswith(b"\x01vorbis"):
        return ("audio", "audio/ogg")
    for magic, name in ((b"\x80theora", "an Ogg Theora video (video/ogg)"),
                        (b"\x7fFLAC", "Ogg FLAC audio"), (b"Speex   ", "Ogg Speex audio"),
                        (b"\x80kate", "an Ogg Kate subtitle stream")):
        if packet.startswith(magic):
            return name
    return "an Ogg container with an unknown codec"


def _after_id3(head: bytes) -> tuple[str, str] | str:
    if len(head) < 10:
        return ("audio", "audio/mpeg")
    size = 10 + ((head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7
                 | (head[9] & 0x7F))
    if head[5] & 0x10:  # footer present
        size += 10
    rest = head[size:size + 4]
    if rest[:4] == b"fLaC":
        return "FLAC audio (audio/flac)"
    if len(rest) >= 2 and rest[0] == 0xFF and rest[1] & 0xF6 == 0xF0:
        return ("audio", "audio/aac")
    return ("audio", "audio/mpeg")  # the tag may be longer than what was read; PyAV verifies


_MP3_BITRATES = {  # kbit/s by bitrate index, for MPEG-1 and MPEG-2/2.5 Layer III
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_audio(head: bytes) -> tuple[str, str] | str | None:
    """MPEG audio frame sync: Layer III is MP3; layer '00' with a 12-bit sync is AAC in ADTS."""
    b1, b2 = head[1], head[2]
    if b1 & 0xF6 == 0xF0:  # 1111 0xx0: ADTS (12-bit sync, layer 00)
        if (b2 >> 2) & 0x0F <= 12:
            return ("audio", "audio/aac")
        return None
    if b1 & 0xE0 != 0xE0:
        return None
    version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
    bitrate_index, rate_index = b2 >> 4, (b2 >> 2) & 3
    if version == 1 or layer == 0 or bitrate_index == 15 or rate_index == 3:
        return None
    if layer != 1:
        return None  # layers I/II: not MP3 (and FF FE / FF FF also start GD images)
    if bitrate_index:
        bitrate = _MP3_BITRATES[1 if version == 3 else 2][bitrate_index] * 1000
        rate = _MP3_RATES[version][rate_index]
        length = (144 if version == 3 else 72) * bitrate // rate + ((b2 >> 1) & 1)
        follows = head[length:length + 2]
        if len(follows) == 2 and not (follows[0] == 0xFF and follows[1] & 0xE0 == 0xE0):
            return None  # one plausible header alone is not enough: the next frame must follow
    return ("audio", "audio/mpeg")


# --- naming what is refused ------------------------------------------------------------------

_MAGIC = (  # (offset, bytes, description), checked in order
    (0, b"%PDF-", "a PDF document (application/pdf)"),
    (0, b"PK\x03\x04", "a ZIP archive (application/zip)"),
    (0, b"PK\x05\x06", "an empty ZIP archive (application/zip)"),
    (0, b"PK\x07\x08", "a ZIP archive (application/zip)"),
    (0, b"GIF87a", "a GIF image (image/gif)"),
    (0, b"GIF89a", "a GIF image (image/gif)"),
    (0, b"II*\x00", "a TIFF image or camera RAW file (image/tiff)"),
    (0, b"MM\x00*", "a TIFF image or camera RAW file (image/tiff)"),
    (0, b"%!PS", "a PostScript/EPS document (application/postscript)"),
    (0, b"\xc5\xd0\xd3\xc6", "an EPS document with a binary header (application/postscript)"),
    (0, b"SIMPLE  =", "a FITS astronomy image (image/fits)"),
    (0, b"gd2\x00", "a GD2 image"),
    (0, b"\xb1\x68\xde\x3a", "a DCX (multi-page PCX) image"),
    (0, b"8BPS", "a Photoshop document (image/vnd.adobe.photoshop)"),
    (0, b"\x00\x00\x01\x00", "a Windows icon (image/x-icon)"),
    (0, b"\x00\x00\x02\x00", "a Windows cursor"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "a JPEG 2000 image (image/jp2)"),
    (0, b"\xff\x4f\xff\x51", "a JPEG 2000 codestream"),
    (0, b"\xff\x0a", "a JPEG XL image (image/jxl)"),
    (0, b"\x00\x00\x00\x0cJXL \r\n\x87\n", "a JPEG XL image (image/jxl)"),
    (0, b"qoif", "a QOI image"),
    (0, b"\x76\x2f\x31\x01", "an OpenEXR image"),
    (0, b"#?RADIANCE", "a Radiance HDR image"),
    (0, b"fLaC", "FLAC audio (audio/flac)"),
    (0, b"#!AMR", "AMR audio (audio/amr)"),
    (0, b"MThd", "a MIDI file (audio/midi)"),
    (0, b"caff", "a Core Audio file (audio/x-caf)"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "an ASF/WMV/WMA file (video/x-ms-asf)"),
    (0, b"FLV\x01", "a Flash video (video/x-flv)"),
    (0, b"\x00\x00\x01\xba", "an MPEG program stream (video/mpeg)"),
    (0, b"\x1f\x8b", "a gzip archive (application/gzip)"),
    (0, b"BZh", "a bzip2 archive"),
    (0, b"\xfd7zXZ\x00", "an xz archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (0, b"Rar!\x1a\x07", "a RAR archive"),
    (0, b"\x28\xb5\x2f\xfd", "a Zstandard archive"),
    (257, b"ustar", "a tar archive (application/x-tar)"),
    (0, b"\x7fELF", "an ELF executable"),
    (0, b"MZ", "a Windows executable (application/x-msdownload)"),
    (0, b"\xca\xfe\xba\xbe", "a Java class or Mach-O executable"),
    (0, b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE2 (old Microsoft Office) document"),
    (0, b"SQLite format 3\x00", "an SQLite database"),
    (0, b"\x00asm", "a WebAssembly module"),
    (0, b"{\\rtf", "an RTF document (application/rtf)"),
    (0, b"BM", "a BMP image (image/bmp)"),
)


def describe(head: bytes) -> str:
    """A short phrase naming what the bytes look like, for refusals ('an SVG image (...)')."""
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "AIFF audio (audio/aiff)"
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "an MPEG transport stream (video/mp2t)"
    text = _as_text(head)
    for offset, magic, name in _MAGIC:  # short magics are too weak to overrule text
        if head[offset:offset + len(magic)] == magic and (text is None or len(magic) > 2):
            return name
    if text is not None:
        return _describe_text(text)
    if head[:2] in (b"\xff\xfe", b"\xff\xff") and len(head) >= 6:
        return "a GD image (or MPEG layer I audio)"
    if len(head) >= 3 and head[0] == 0x0A and head[1] in (0, 2, 3, 4, 5) and head[2] == 1:
        return "a PCX image (image/x-pcx)"
    if head[:2] in (b"P1", b"P2", b"P3", b"P4", b"P5", b"P6", b"P7") and head[2:3].isspace():
        return "a Netpbm image"
    shown = " ".join(f"{b:02x}" for b in head[:8])
    return f"unrecognised binary data (starting {shown})"


def _as_text(head: bytes) -> str | None:
    """The head decoded as text when it is text (BOM-aware); None for binary data."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"),
                       (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            text = head[len(bom):].decode(codec, errors="replace")
            if text.count("\ufffd") > len(text) // 100:
                return None
            break
    else:
        if b"\x00" in head:
            return None
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the end of the head
                return None
            text = head[:exc.start].decode("utf-8")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v\x1b")
    return text if controls <= len(text) // 100 else None


_HTML_MARKERS = ("<!doctype html", "<html", "<head", "<body", "<script", "<iframe", "<meta",
                 "<title", "<div", "<img", "<a ", "<form", "<style", "<object", "<embed")


def _describe_text(text: str) -> str:
    start = text.lstrip().lower()[:HEAD_BYTES]
    while start.startswith("<!--"):  # skip leading comments
        end = start.find("-->")
        start = start[end + 3:].lstrip() if end >= 0 else ""
    if start.startswith("<svg") or ("<svg" in start
                                    and start.startswith(("<?xml", "<!doctype svg"))):
        return "an SVG image (image/svg+xml)"
    if start.startswith("<!doctype html") or any(m in start[:1024] for m in _HTML_MARKERS):
        return "an HTML document (text/html)"
    if start.startswith("<?xml"):
        return "an XML document (application/xml)"
    if start.startswith("%!ps"):
        return "a PostScript/EPS document (application/postscript)"
    if start.startswith("simple  ="):
        return "a FITS astronomy image (image/fits)"
    if start.startswith("#!"):
        return "a script (text/x-shellscript)"
    if start.startswith("#extm3u"):
        return "an M3U/HLS playlist (audio/x-mpegurl)"
    if re.match(r"^(\{|\[)\s*[\"{\[\]]", start):
        return "a JSON document (application/json)"
    if start.startswith(("#define", "/* xpm */", "static char")):
        return "an X bitmap/pixmap image"
    return "plain text (text/plain)"


def _printable(raw: bytes) -> str:
    return raw.decode("latin-1").translate({i: "?" for i in range(32)})
