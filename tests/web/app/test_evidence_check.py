"""Evidence checked on attach: the app judges a file's first bytes and size as the server does
(server/media/sniff.py's own tables and the configured limits, sent in the shell), refuses at once
at the question, naming it and the file; a file the server refuses anyway (a JPEG that does not
decode) comes back named by its question and file, and "needs attention" shows no all-clear next
to it. Units of the form are shown in the inspector's language."""
from __future__ import annotations

import io
import struct

from PIL import Image

from server.media.sniff import MediaRefused, sniff
from server.visits.models import Visit
from tests.visits.builders import visit_payload
from tests.web.app import flows
from tests.web.app.checks import LOW_CONTRAST
from tests.web.app.helpers import rows, visit

HEAD = 8192


def _image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 80, 40)).save(out, fmt)
    return out.getvalue()


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00\x00\x00\x08free" + b"\x00" * 64


def _ebml(doctype: bytes) -> bytes:
    return (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08"
            + b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype + b"\x42\x87\x81\x04" + b"\x00" * 64)


def _ogg(packet: bytes) -> bytes:
    return b"OggS\x00\x02" + b"\x00" * 20 + b"\x01" + bytes([len(packet)]) + packet + b"\x00" * 64


MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 413  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz: 417 bytes


def corpus() -> dict[str, bytes]:
    """Files the server accepts and files it refuses, by what their bytes are."""
    return {
        "photo.jpg": _image("JPEG"), "photo.png": _image("PNG"), "photo.webp": _image("WEBP"),
        "photo.heic": _ftyp(b"heic", b"mif1", b"heic"), "photo.heif": _ftyp(b"mif1", b"mif1"),
        "video.mp4": _ftyp(b"isom", b"isom", b"avc1"), "video.mov": _ftyp(b"qt  ", b"qt  "),
        "old-camera.mov": b"\x00\x00\x00\x08wide\x00\x00\x10\x00mdat" + b"\x00" * 64,
        "video.3gp": _ftyp(b"3gp4", b"isom"), "video.webm": _ebml(b"webm"),
        "audio.m4a": _ftyp(b"M4A ", b"M4A ", b"mp42"), "audio.mp3": MP3_FRAME * 3,
        "tagged.mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00" + MP3_FRAME * 2,
        "audio.aac": b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x00" * 64,
        "audio.ogg": _ogg(b"OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00"),
        "vorbis.ogg": _ogg(b"\x01vorbis\x00\x00\x00\x00\x02"),
        "audio.wav": b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64,
        # refused
        "report.pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        "drawing.svg": b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>\n',
        "archive.zip": b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 64,
        "page.html": b"<!doctype html><html><body><script>alert(1)</script></body></html>",
        "photo.avif": _ftyp(b"avif", b"avif", b"mif1"), "anim.gif": b"GIF89a\x01\x00\x01\x00" + b"\x00" * 32,
        "image.bmp": b"BM" + b"\x00" * 64, "film.mkv": _ebml(b"matroska"),
        "clip.avi": b"RIFF\x24\x00\x00\x00AVI LIST" + b"\x00" * 64,
        "theora.ogg": _ogg(b"\x80theora\x03\x02\x01"), "notes.txt": "Заметка о визите".encode(),
        "noise.bin": bytes(range(1, 200)) * 3, "lonely-frame.mp3": MP3_FRAME[:4] + b"\x01" * 500,
        "empty.jpg": b"",
    }


def server_verdict(path, size: int, config) -> dict:
    """What the server answers for this file: create_upload's size checks, then sniff() and the
    limit of the kind it found (server/media/service.py, then completion.py)."""
    if size > config["UPLOAD_MAX_BYTES"]:
        return {"ok": False, "code": "upload_too_large"}
    if size == 0:
        return {"ok": False, "code": "empty_file"}
    try:
        kind, content_type = sniff(path)
    except MediaRefused as refused:
        return {"ok": False, "code": refused.code}
    if size > config[f"MEDIA_MAX_BYTES_{kind.upper()}"]:
        return {"ok": False, "code": "too_large_for_kind"}
    return {"ok": True, "kind": kind, "type": content_type}


JUDGE = """async (cases) => {
  const { judge } = await import("/app/static/sniff.js");
  const bytes = (hex) => Uint8Array.from(hex.match(/../g) || [], (x) => parseInt(x, 16));
  return cases.map(([name, hex, size]) => { const v = judge(bytes(hex), size);
    return [name, v.ok ? { ok: true, kind: v.kind, type: v.type } : { ok: false, code: v.code }]; });
}"""


def test_the_app_judges_every_file_as_the_server_does(open_phone, app, tmp_path):
    cases = []
    for name, content in corpus().items():
        path = tmp_path / name
        path.write_bytes(content)
        cases.append((name, path, len(content)))
    # Too large: a sparse file with a photo's bytes over the photo limit, and a video over the
    # upload limit (only the size and the first bytes matter).
    limits = {"photo": app.config["MEDIA_MAX_BYTES_PHOTO"], "upload": app.config["UPLOAD_MAX_BYTES"]}
    for name, content, size in (("huge.jpg", _image("JPEG"), limits["photo"] + 1),
                                ("huge.mp4", _ftyp(b"isom", b"isom"), limits["upload"] + 1)):
        path = tmp_path / name
        with open(path, "wb") as fh:
            fh.write(content)
            fh.truncate(size)
        cases.append((name, path, size))
    expected = {name: server_verdict(path, size, app.config) for name, path, size in cases}
    assert {v["code"] for v in expected.values() if not v["ok"]} == {
        "type_not_allowed", "empty_file", "too_large_for_kind", "upload_too_large"}
    assert sum(v["ok"] for v in expected.values()) == 17

    page = open_phone(service_workers="block")
    page.goto("/app/signin")  # the shell carries the rules
    page.wait_for_selector("#login")
    got = dict(page.evaluate(JUDGE, [[name, path.open("rb").read(HEAD).hex(), size]
                                     for name, path, size in cases]))
    assert got == expected


def test_a_file_the_server_would_refuse_is_refused_at_once_at_its_question(open_phone, world,
                                                                            tmp_path):
    page = open_phone(service_workers="block")
    pdf = tmp_path / "ramp-report.pdf"
    pdf.write_bytes(corpus()["report.pdf"])
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    good = tmp_path / "ramp.png"
    good.write_bytes(_image("PNG"))
    flows.sign_in(page)
    flows.start_visit(page, world["assignment"])
    gallery = "#q-A01 .capture input[type=file]:not([capture])"
    page.set_input_files(gallery, str(pdf))
    error = page.locator("#q-A01 .error:not([hidden])")
    error.wait_for()
    text = error.inner_text()
    assert "ramp-report.pdf" in text and "Is there step-free access to the service hall" in text
    assert "application/pdf" in text and "JPEG" in text
    assert page.locator("#q-A01 .media-item").count() == 0  # no broken preview, nothing kept
    assert page.evaluate(LOW_CONTRAST) == []
    page.set_input_files(gallery, str(empty))
    page.wait_for_selector("#q-A01 .error:has-text('empty.jpg')")
    page.set_input_files(gallery, str(good))  # a real photo is taken, and the refusal goes
    page.wait_for_selector("#q-A01 .media-item img")
    assert "empty.jpg" not in page.inner_text("#q-A01")
    flows.wait_saved(page)
    stored = page.evaluate("""() => new Promise((resolve) => { const req = indexedDB.open("adal-inspector");
      req.onsuccess = () => { const all = req.result.transaction("media").objectStore("media").getAll();
        all.onsuccess = () => { resolve(all.result.map((m) => [m.name, m.kind])); req.result.close(); }; }; })""")
    assert stored == [["ramp.png", "photo"]]

    # The form's units in the inspector's language.
    flows.answer(page, "A01", "yes")
    page.select_option("#lang", "kk")
    page.wait_for_function("() => document.querySelector('#q-A04 .unit')?.textContent === 'см'")
    page.select_option("#lang", "uz")
    page.wait_for_function("() => document.querySelector('#q-A04 .unit')?.textContent === 'sm'")
    assert page.inner_text("#q-A02 .unit") == "%"


def test_a_file_the_server_refuses_is_named_and_never_next_to_an_all_clear(open_phone, world, app,
                                                                            client, default_form,
                                                                            tmp_path):
    payload = visit_payload(default_form, assignment=world["assignment"], overrides={"C06": "no"})
    assert client.post("/api/v1/visits", json=payload, headers=world["inspector"]).status_code == 201
    resp = client.post(f"/api/v1/visits/{payload['uuid']}/review", headers=world["supervisor"],
                       json={"decision": "return", "comment": "Photograph the fee board.",
                             "revision": 1})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    broken = tmp_path / "fee-board.jpg"  # JPEG's first bytes, then nothing a decoder can read
    broken.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)

    page = open_phone(service_workers="block")
    flows.sign_in(page)
    page.click("nav a[href='/app/visits']")
    item = f"[data-uuid='{payload['uuid']}']"
    page.click(f"{item}[data-status=returned] a.button")
    page.wait_for_selector(".banner.info:has-text('fee board')")
    page.select_option("#jump", "2")  # the service section
    page.set_input_files("#q-C06 .capture input[type=file]:not([capture])", str(broken))
    page.wait_for_selector("#q-C06 .media-item")  # its first bytes are a JPEG's: accepted here
    assert page.is_hidden("#q-C06 .error")
    page.select_option("#jump", "6")
    page.click("#finish")
    page.wait_for_selector(f"{item}[data-status=attention]")
    card = page.inner_text(f"{item} .error")
    assert "fee-board.jpg" in card
    label = page.evaluate("""() => new Promise((resolve) => { const req = indexedDB.open("adal-inspector");
      req.onsuccess = () => { const g = req.result.transaction("forms").objectStore("forms").getAll();
        g.onsuccess = () => { const q = g.result[0].definition.sections.flatMap((s) => s.questions)
          .find((x) => x.id === "C06"); resolve(q.label.en); req.result.close(); }; }; })""")
    assert label in card

    page.click(f"{item} a.button")
    page.select_option("#jump", "6")
    page.wait_for_selector("#finish")
    problems = page.inner_text(".problems")
    assert "fee-board.jpg" in problems and label in problems
    assert page.locator(".ok").count() == 0  # never "Everything required is answered" here
    page.click(".problems a")  # to the question: the refusal is there too, and the file goes
    page.wait_for_selector("#q-C06 .error:has-text('fee-board.jpg')")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#q-C06 .media-item button.danger")
    page.wait_for_selector("#q-C06 .media-item", state="detached")
    page.select_option("#jump", "6")
    page.wait_for_selector("#finish")
    assert page.locator(".problems").count() == 0
    page.click("#finish")
    page.wait_for_selector(f"{item}[data-status=sent]")
    assert rows(app, Visit) == 1 and visit(client, world["inspector"], payload["uuid"])["revision"] == 2
