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

This module is the isolation: the parent side (`analyse()`) and the child's entry point. The
decoders it runs are `photos.py` (Pillow; EXIF facts in `exif.py`) and `video_audio.py` (PyAV).
See docs/media-processing.md for the rules and the anonymity guarantees.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .photos import photo_derivatives, validate_photo, video_poster
from .sniff import MediaRefused, brief, sniff
from .video_audio import validate_av

__all__ = ["Analysis", "Derivative", "MediaRefused", "analyse", "sniff"]

CHILD_MEMORY_BYTES = 4 << 30     # address-space cap for the decoding child
CHILD_FILE_BYTES = 512 << 20     # largest file the child may write
# Test-only: "validate:sleep", "validate:abort", "validate:segv", "derivatives:sleep",
# "derivatives:abort", "derivatives:raise" make the child misbehave at that point, to prove the
# parent survives. The parent copies the variable into the job (a forkserver child does not see the
# parent's current environment); nothing in production sets it.
FAULT_ENV = "ADAL_MEDIA_TEST_FAULT"


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
            conn.send(("refused", code, f"The file could not be decoded ({brief(exc)}).",
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
            conn.send(("derivative_error", f"failed ({brief(exc)})"))
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


def validate(job: dict) -> tuple[dict, Any]:
    """Decode and read the facts. Returns (JSON-safe meta, state for make_derivatives)."""
    if job["kind"] == "photo":
        return validate_photo(Path(job["path"]), job["content_type"], job["max_pixels"])
    return validate_av(job)


def make_derivatives(meta: dict, state: Any, workdir: Path) -> list[dict]:
    """Write the derivatives of a validated file; returns their descriptions."""
    if meta["kind"] == "photo":
        return photo_derivatives(state, workdir)
    if meta["kind"] == "video" and state is not None:
        return video_poster(state, workdir)
    return []
