"""load_answers' plain-Python path gives exactly what AnswerIn.load gives, and never accepts
what AnswerIn refuses (the intake hot path skips marshmallow for plainly valid answers)."""
from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from server.visits.schemas import AnswerIn
from server.visits.validation import _loaded_as_is, load_answers

SHA = "ab" * 32
texts = st.one_of(st.sampled_from(["", "q1", "a" * 64, "a" * 65, "x\ny", "x\x00", "\ud800",
                                   "é ü", "\u200b", "\t"]), st.text(max_size=70))
values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                   texts, st.lists(st.integers(), max_size=3), st.dictionaries(texts, st.integers(), max_size=2))
evidence = st.one_of(st.lists(st.sampled_from([SHA, SHA.upper(), "ab", 5, None]), max_size=22),
                     st.just([SHA] * 20), st.just([SHA] * 21), texts, st.none())
answers = st.fixed_dictionaries({}, optional={
    "question": st.one_of(texts, st.integers(), st.none()),
    "value": values,
    "not_applicable": st.one_of(st.booleans(), st.sampled_from([0, 1, "true", "no", None, "x"])),
    "note": st.one_of(texts, st.just("n" * 2000), st.just("n" * 2001), st.integers(), st.none()),
    "evidence": evidence,
    "extra": st.integers(),
})


@settings(max_examples=600, deadline=None)
@given(answers)
def test_plain_path_matches_marshmallow(item):
    try:
        expected = AnswerIn().load(item)
    except ValidationError:
        expected = None
    quick = _loaded_as_is(item)
    if quick is not None:
        assert expected is not None, "the plain path accepted what AnswerIn refuses"
        assert quick == expected
        assert list(quick) == list(expected)  # same keys in the same order


def test_usual_answers_take_the_plain_path():
    assert _loaded_as_is({"question": "q1", "value": "yes"}) == {
        "question": "q1", "value": "yes", "not_applicable": False, "note": "", "evidence": []}
    assert _loaded_as_is({"question": "q1", "value": None, "not_applicable": True,
                          "note": "two\nlines", "evidence": [SHA]}) is not None


def test_refused_answers_keep_marshmallows_messages():
    loaded, errors = load_answers([
        {"question": "q1", "value": "yes"},
        {"question": "q2", "not_applicable": "maybe"},
        {"question": "q3", "evidence": ["nope"], "colour": "red"},
        {"question": "q4", "note": "x\x00"},
    ])
    assert [a["question"] for a in loaded] == ["q1"]
    assert errors == {
        "q2": ["not_applicable: Not a valid boolean."],
        "q3": ["evidence.0: Not a SHA-256 (64 lower-case hex digits).", "colour: Unknown field."],
        "q4": ["note: Control character U+0000 is not allowed."],
    }


def test_the_stored_rows_are_the_answers_as_sent_in_order(client, world, default_form, app):
    """On PostgreSQL the answers and section scores go in as one array statement each; the rows
    must be what the ORM's executemany stored: values as JSON (null is JSON null, not SQL
    NULL), ids in the order sent, the notes and not_applicable flags as given."""
    import sqlalchemy as sa

    from server.extensions import db
    from server.visits.models import Answer, Visit, VisitSectionScore
    from tests.visits.builders import visit_payload

    body = visit_payload(default_form, assignment=world["assignment"])
    first = body["answers"][0]
    first.update(note="two\nlines «ü»")
    ramp = next(a for a in body["answers"] if a["question"] == "A02")
    ramp.update(value=None, not_applicable=True)
    resp = client.post("/api/v1/visits", json=body, headers=world["inspector"])
    assert resp.status_code == 201, resp.json
    with app.app_context():
        visit = db.session.scalar(sa.select(Visit).where(Visit.uuid == uuid.UUID(resp.json["uuid"])))
        rows = db.session.execute(sa.select(Answer.question_id, Answer.value,
                                            Answer.not_applicable, Answer.note)
                                  .where(Answer.visit_id == visit.id).order_by(Answer.id)).all()
        assert [tuple(r) for r in rows] == [
            (a["question"], a.get("value"), a.get("not_applicable", False), a.get("note", ""))
            for a in body["answers"]]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Answer)
                                 .where(Answer.value.is_(None))) == 0  # JSON null, never NULL
        sections = dict(db.session.execute(sa.select(VisitSectionScore.section_id,
                                                     VisitSectionScore.score)
                                           .where(VisitSectionScore.visit_id == visit.id)).all())
    assert sections == {k: v for k, v in resp.json["section_scores"].items() if v is not None}
