"""`adal audit verify`: exit 0 and print the head when intact, exit 1 naming the broken event."""
from __future__ import annotations

import sqlalchemy as sa

from server.audit.models import AuditEvent
from server.audit.service import event_digest, event_hash
from server.extensions import db


def _last_hash(app) -> str:
    with app.app_context():
        return db.session.scalar(sa.select(AuditEvent.hash).order_by(AuditEvent.seq.desc()))


def test_verify_prints_the_count_and_head_of_an_intact_chain(app, runner, chain):
    chain(3)
    result = runner.invoke(args=["adal", "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "OK: 3 events" in result.stdout
    assert _last_hash(app) in result.stdout


def test_verify_of_an_empty_log_is_ok(runner):
    result = runner.invoke(args=["adal", "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "OK: 0 events" in result.stdout


def test_verify_exits_1_and_names_the_altered_event(runner, chain, raw_sql):
    chain(4)
    raw_sql("UPDATE audit_events SET payload = '{\"n\": 0}' WHERE seq = 3")
    result = runner.invoke(args=["adal", "audit", "verify"])
    assert result.exit_code == 1
    assert "event 3" in result.stderr
    assert "2 events before it verify" in result.stderr
    assert "OK" not in result.stdout


def test_verify_exits_1_and_names_a_deleted_middle_event(runner, chain, raw_sql):
    chain(4)
    raw_sql("DELETE FROM audit_events WHERE seq = 2")
    result = runner.invoke(args=["adal", "audit", "verify"])
    assert result.exit_code == 1
    assert "event 2" in result.stderr


def test_verify_exits_1_and_names_a_deleted_last_event(runner, chain, raw_sql):
    chain(4)
    raw_sql("DELETE FROM audit_events WHERE seq = 4")
    result = runner.invoke(args=["adal", "audit", "verify"])
    assert result.exit_code == 1
    assert "event 4" in result.stderr


def _head_printed(result) -> str:
    """The SEQ:HASH an operator copies from the output to keep elsewhere."""
    line = next(line for line in result.stdout.splitlines() if line.startswith("OK:"))
    return line.rsplit(" ", 1)[1]


def test_an_anchor_kept_from_an_earlier_run_still_matches(runner, chain):
    chain(2)
    anchor = _head_printed(runner.invoke(args=["adal", "audit", "verify"]))
    assert anchor.startswith("2:")
    chain(2)
    result = runner.invoke(args=["adal", "audit", "verify", "--anchor", anchor])
    assert result.exit_code == 0, result.output
    assert "OK: 4 events" in result.stdout
    assert "Anchors match: 2." in result.stdout


def test_a_chain_rewritten_and_rehashed_to_the_end_fails_its_anchor(app, runner, chain, raw_sql):
    """F11: the bribed admin recomputes every hash after the edit and moves the head too."""
    chain(3)
    anchor = _head_printed(runner.invoke(args=["adal", "audit", "verify"]))
    raw_sql("UPDATE audit_events SET action = 'nothing_happened' WHERE seq = 2")
    with app.app_context():
        prev = db.session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.seq == 1))
        for event in db.session.scalars(sa.select(AuditEvent).where(AuditEvent.seq >= 2)
                                        .order_by(AuditEvent.seq)).all():
            digest = event_hash(prev_hash=prev, seq=event.seq, at=event.at,
                                actor_id=event.actor_id, actor_login=event.actor_login,
                                action=event.action, object_type=event.object_type,
                                object_id=event.object_id, payload=event.payload)
            own = event_digest(seq=event.seq, at=event.at, actor_id=event.actor_id,
                               actor_login=event.actor_login, action=event.action,
                               object_type=event.object_type, object_id=event.object_id,
                               payload=event.payload)
            db.session.execute(sa.text("UPDATE audit_events SET prev_hash = :p, hash = :h, "
                                       "digest = :d WHERE seq = :s"),
                               {"p": prev, "h": digest, "d": own, "s": event.seq})
            prev = digest
        db.session.execute(sa.text("UPDATE audit_head SET hash = :h"), {"h": prev})
        db.session.commit()
    assert runner.invoke(args=["adal", "audit", "verify"]).exit_code == 0  # invisible without it
    result = runner.invoke(args=["adal", "audit", "verify", "--anchor", anchor])
    assert result.exit_code == 1
    assert "ANCHOR MISMATCH at event 3" in result.stderr


def test_an_anchor_past_the_stored_events_fails(runner, chain):
    chain(2)
    result = runner.invoke(args=["adal", "audit", "verify", "--anchor", f"5:{'a' * 64}"])
    assert result.exit_code == 1
    assert "event 5" in result.stderr


def test_a_malformed_anchor_is_a_usage_error(runner):
    result = runner.invoke(args=["adal", "audit", "verify", "--anchor", "3:nothex"])
    assert result.exit_code == 2
    assert "SEQ:HASH" in result.stderr
