"""`adal demo` supports a day's review: visits with photos drawn at demo time (stored through the
media service, so EXIF facts, thumbnails, previews and photo flags are real) and recommendations
in several statuses; run again, it adds nothing."""
from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from PIL import Image

from server import demo, demo_photos
from server.audit.models import AuditEvent
from server.config import PROJECT_ROOT
from server.extensions import db
from server.forms.service import publish_file
from server.media.models import MediaObject
from server.media.exif import exif_facts
from server.recommendations.models import Recommendation
from server.visits.models import Flag, Visit, VisitEvidence

DEFAULT_FORM = Path(PROJECT_ROOT) / "survey_forms" / "service_centre_visit.v1.yaml"


def _load(app) -> str:
    with app.app_context():
        publish_file(path=DEFAULT_FORM)
        db.session.commit()
        summary = demo.load_demo()
        db.session.commit()
        return summary


def _counts(app) -> list[int]:
    with app.app_context():
        return [db.session.scalar(sa.select(sa.func.count()).select_from(model))
                for model in (Visit, VisitEvidence, MediaObject, Recommendation, AuditEvent)]


def test_demo_has_photos_flags_and_recommendations_and_adds_nothing_twice(app):
    summary = _load(app)
    assert "3 with photos" in summary and "5 new recommendations" in summary
    with app.app_context():
        media = db.session.scalars(sa.select(MediaObject)).all()
        assert len(media) == sum(len(photos) for *_, photos in demo.PHOTO_VISITS) == 7
        assert all(m.status == "ready" and {d.name for d in m.derivatives} >=
                   {"thumbnail", "preview"} for m in media)
        kinds = set(db.session.scalars(sa.select(Flag.kind)))
        assert {"photo_far_from_office", "photo_outside_window"} <= kinds
        statuses = sorted(db.session.scalars(sa.select(Recommendation.status)))
        assert statuses == ["in_progress", "open", "open", "reported_done", "verified"]
        assert db.session.scalar(sa.select(sa.func.count(Recommendation.id)).where(
            Recommendation.visit_id.is_not(None))) >= 1
        photo_visit = db.session.scalar(sa.select(Visit).join(VisitEvidence).limit(1)).uuid
    before = _counts(app)
    again = _load(app)
    assert "(0 records added)" in again and _counts(app) == before
    # The console shows the photos: thumbnails that load, previews behind them.
    client = app.test_client()
    sign_in_demo(client)
    html = client.get(f"/console/visits/{photo_visit}?lang=en").get_data(as_text=True)
    thumbs = re.findall(r'src="(/api/v1/media/[0-9a-f]{64}/thumbnail)"', html)
    assert thumbs
    resp = client.get(thumbs[0])
    assert resp.status_code == 200 and resp.mimetype.startswith("image/")


def test_a_demo_photo_is_the_same_bytes_for_the_same_seed_and_reads_back():
    shot = demo_photos.Shot(taken=datetime(2026, 12, 3, 14, 5, 9, tzinfo=ZoneInfo("Asia/Almaty")),
                            lat=51.1285, lon=71.4301, accuracy_m=7)
    for scene in demo_photos.SCENES:
        one = demo_photos.draw_photo(scene=scene, caption="A01", shot=shot, seed=5, value=87.5)
        assert one == demo_photos.draw_photo(scene=scene, caption="A01", shot=shot, seed=5,
                                             value=87.5)
        assert one[:3] == b"\xff\xd8\xff"
    facts = exif_facts(Image.open(io.BytesIO(one)))
    assert facts["captured_at"] == "2026-12-03T14:05:09+05:00"
    assert facts["gps_status"] == "valid"
    assert facts["gps"] == pytest.approx([51.1285, 71.4301], abs=1e-6)
    assert facts["info"]["gps_accuracy_m"] == 7.0
    with pytest.raises(ValueError):
        demo_photos.exif_for(demo_photos.Shot(taken=datetime(2026, 12, 3), lat=1, lon=1))


def sign_in_demo(client) -> None:
    from .helpers import csrf_of
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"csrf_token": token, "login": "supervisor",
                                       "password": demo.DEMO_PASSWORD})
    assert resp.status_code == 302
