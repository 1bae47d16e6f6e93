"""Video and audio with PyAV: validate a recording and read its facts.

Runs in the decoding child of `server.media.processing`: the demuxer is forced to the sniffed
container with a bounded probe, the codecs are checked against the allow-list, the duration the
header claims is compared with what the packets cover, the first key frame (video) or a few audio
frames are decoded, and capture time and position are read from the container tags. See
docs/media-processing.md.
"""
from __future__ import annotations

import math
import re
import time
from datetime import datetime, timezone
from typing import Any

from .sniff import MediaRefused, brief, refuse_type

PROBE_BYTES = 5_000_000          # FFmpeg probesize: bytes read to find the streams
ANALYZE_US = 5_000_000           # FFmpeg analyzeduration: media time read to find the streams
FULL_SCAN_BYTES = 256 << 20      # up to this size every packet is demuxed to check the duration
MAX_PACKET_SECONDS = 10.0        # an average packet longer than this means a padded header

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


def validate_av(job: dict) -> tuple[dict, Any]:
    import av
    path, content_type = job["path"], job["content_type"]
    deadline = time.monotonic() + job["timeout"]
    demuxer, container_name = _AV_FORMATS[content_type], _CONTAINER_NAMES[content_type]
    what = container_name.upper()
    try:
        container = _open_av(path, demuxer)
    except Exception as exc:
        raise MediaRefused("unreadable_media", f"The {what} file cannot be opened: it is "
                                               f"truncated or not really {what} ({brief(exc)}).")
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
                                               f"({brief(exc)}).")
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
                                               f"({brief(exc)}).")
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
