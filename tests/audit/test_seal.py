"""The sealer: unchained events get chained after commit, once, in one chain, whoever seals."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from server import create_app
from server.audit import seal as sealer
from server.audit.models import AuditEvent
from server.audit.service import append_event, verify_chain
from server.config import ConfigError
from server.db import unit_of_work
from server.extensions import db


def _append(app, n: int, **kw) -> None:
    with app.app_context():
        for i in range(n):
            with unit_of_work():
                append_event("office_updated", object_type="office", object_id=f"O-{i}",
                             payload={"i": i, **kw})


def _chain_seqs(app) -> list[int | None]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.chain_seq).order_by(AuditEvent.seq)))


def _verify(app):
    with app.app_context():
        return verify_chain()


def _seal(app) -> int:
    with app.app_context():
        return sealer.seal(db.engine)


@pytest.fixture
def unsealed(app):
    """Sealing after commit is off: what a process killed between commit and sealing leaves."""
    app.config["AUDIT_SEAL"] = "off"
    return app


def test_events_are_stored_unchained_with_their_digest_until_sealed(unsealed):
    _append(unsealed, 3)
    assert _chain_seqs(unsealed) == [None, None, None]
    report = _verify(unsealed)
    assert report.ok and report.events == 0 and report.unsealed == 3
    assert report.oldest_unsealed_at is not None
    assert _seal(unsealed) == 3
    assert _chain_seqs(unsealed) == [1, 2, 3]
    report = _verify(unsealed)
    assert report.ok and report.events == 3 and report.unsealed == 0


def test_the_cli_seals_what_a_killed_worker_left_and_verify_reports_it_first(unsealed, runner):
    _append(unsealed, 2)
    result = runner.invoke(args=["adal", "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "OK: 0 events" in result.stdout
    assert "Not sealed yet: 2 events, the oldest" in result.stdout
    result = runner.invoke(args=["adal", "audit", "seal", "--batch", "1"])
    assert result.exit_code == 0, result.output
    assert "Sealed 2 events." in result.stdout
    result = runner.invoke(args=["adal", "audit", "verify"])
    assert "OK: 2 events" in result.stdout and "Not sealed" not in result.stdout


def test_a_tampered_unsealed_event_is_reported_before_and_after_sealing(unsealed, raw_sql):
    _append(unsealed, 3)
    raw_sql("UPDATE audit_events SET payload = '{\"i\": 7}' WHERE seq = 2")
    report = _verify(unsealed)
    assert not report.ok and report.broken_seq == 2 and "unsealed event 2" in report.reason
    _seal(unsealed)  # sealed as stored: the chain covers it, the digest still disagrees
    report = _verify(unsealed)
    assert not report.ok and report.broken_seq == 2 and report.events == 1
    assert "digest" in report.reason


def test_two_sealers_at_once_make_one_chain(unsealed):
    _append(unsealed, 30)
    barrier = threading.Barrier(2)
    sealed: list[int] = []

    def run() -> None:
        with unsealed.app_context():
            barrier.wait(timeout=10)
            sealed.append(sealer.seal(db.engine, batch=7))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sum(sealed) == 30
    assert sorted(_chain_seqs(unsealed)) == list(range(1, 31))
    assert _verify(unsealed).ok


def test_writers_and_a_sealer_running_together_make_one_chain(unsealed):
    stop = threading.Event()

    def seal_continuously() -> None:
        with unsealed.app_context():
            while not stop.is_set():
                sealer.seal(db.engine, batch=3)

    def write(n: int) -> None:
        _append(unsealed, 10, writer=n)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    background = threading.Thread(target=seal_continuously)
    background.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join(timeout=30)
    stop.set()
    background.join(timeout=30)
    _seal(unsealed)  # whatever committed after the sealer's last look
    assert sorted(_chain_seqs(unsealed)) == list(range(1, 31))
    report = _verify(unsealed)
    assert report.ok and report.events == 30 and report.unsealed == 0


def test_inline_sealing_chains_right_after_commit(app):
    app.config["AUDIT_SEAL"] = "inline"
    _append(app, 2)
    assert _chain_seqs(app) == [1, 2]


def test_background_sealing_chains_soon_after_commit(app):
    app.config["AUDIT_SEAL"] = "background"
    _append(app, 2)
    deadline = time.monotonic() + 10
    while _chain_seqs(app) != [1, 2] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _chain_seqs(app) == [1, 2]


def test_an_unknown_sealing_mode_refuses_to_start(tmp_path):
    with pytest.raises(ConfigError, match="ADAL_AUDIT_SEAL"):
        create_app({"TESTING": True, "SECRET_KEY": "test-secret-key-0123456789",
                    "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                    "AUDIT_SEAL": "sometimes"}, instance_path=str(tmp_path))
