"""A web-friendly preview of a video: H.264 + AAC in MP4, at most 720 lines, made with PyAV.

Phones record HEVC (iPhone) or large H.264 files that some browsers cannot play or that take
long to fetch; supervisors get this preview instead (the original is kept byte for byte).
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

MAX_LINES = 720
CRF = "28"


def _even(n: float) -> int:
    return max(2, int(n) // 2 * 2)


def web_preview(src: Path, dst: Path, *, max_lines: int = MAX_LINES) -> tuple[int, int]:
    """Transcode `src` to `dst` (MP4, H.264 yuv420p, AAC); returns the preview's (width, height).
    The display rotation is applied, so the preview plays upright everywhere."""
    with av.open(str(src)) as source, av.open(str(dst), "w", format="mp4",
                                               options={"movflags": "+faststart"}) as out:
        video_in = source.streams.video[0]
        audio_in = source.streams.audio[0] if source.streams.audio else None
        width, height = video_in.codec_context.width, video_in.codec_context.height
        scale = min(1.0, max_lines / min(width, height))  # 720p: the short side at most 720
        w, h = _even(width * scale), _even(height * scale)
        rate = video_in.average_rate or Fraction(30)
        video_out = out.add_stream("libx264", rate=rate)
        video_out.width, video_out.height, video_out.pix_fmt = w, h, "yuv420p"
        video_out.options = {"crf": CRF, "preset": "veryfast"}
        audio_out = None
        if audio_in is not None:
            audio_out = out.add_stream("aac", rate=min(audio_in.rate or 44100, 48000),
                                       layout="stereo" if (audio_in.channels or 1) > 1 else "mono")
            resampler = av.AudioResampler(format="fltp", layout=audio_out.layout,
                                          rate=audio_out.rate)
        streams = [video_in] + ([audio_in] if audio_in is not None else [])
        for packet in source.demux(*streams):
            for frame in packet.decode():
                if packet.stream is video_in:
                    frame = frame.reformat(width=w, height=h, format="yuv420p")
                    for out_packet in video_out.encode(frame):
                        out.mux(out_packet)
                elif audio_out is not None:
                    frame.pts = None
                    for resampled in resampler.resample(frame):
                        for out_packet in audio_out.encode(resampled):
                            out.mux(out_packet)
        for stream in (video_out, audio_out):
            if stream is not None:
                for out_packet in stream.encode():
                    out.mux(out_packet)
    return w, h
