"""server/visits/filters.py as the console table uses it: load, page, counts, choices, links."""
from __future__ import annotations

import pytest
from marshmallow import ValidationError

from server.auth.models import User
from server.errors import Forbidden, ValidationFailed
from server.extensions import db
from server.visits import filters
from tests.exports.builders import MID_H1, V1_ANSWERS, V2_ANSWERS, insert_visits


@pytest.fixture
def visits(ew, commit):
    def build():
        insert_visits(count=3, office_id=ew.n1, inspector_id=ew.inspector, version_id=ew.v1,
                      answers=V1_ANSWERS, when=MID_H1, score=None)
        insert_visits(count=2, office_id=ew.n2, inspector_id=ew.inspector, version_id=ew.v2,
                      answers=V2_ANSWERS, status="approved", score=80.0)
        insert_visits(count=1, office_id=ew.s1, inspector_id=ew.inspector, version_id=ew.v2,
                      answers=V2_ANSWERS, status="rejected", score=20.0)
    commit(build)


def _user(login: str) -> User:
    return db.session.scalar(db.select(User).where(User.login == login))


def _load(**query) -> dict:
    return filters.VisitTableArgs().load({k: str(v) for k, v in query.items()})


def test_a_page_has_items_total_and_counts_per_status(app, visits):
    with app.test_request_context():
        page = filters.visits_page(user=_user("adm-x"),
                                   filters=_load(status="approved", per_page=1, page=2))
        assert (page["total"], page["page"], page["per_page"], len(page["items"])) == \
            (2, 2, 1, 1)
        assert page["counts"] == {"submitted": 3, "in_review": 0, "approved": 2,
                                  "rejected": 1, "returned": 0}
        north = filters.visits_page(user=_user("sup-north"), filters=_load())
        assert north["total"] == 5 and north["counts"]["rejected"] == 0


def test_visits_without_a_score_sort_last_both_ways(app, visits):
    with app.test_request_context():
        for order in ("asc", "desc"):
            rows = db.session.scalars(filters.select_visits(
                user=_user("adm-x"), filters=_load(sort="score", order=order))).all()
            scores = [v.score for v in rows]
            assert scores[-3:] == [None, None, None]
            assert scores[:3] == ([20.0, 80.0, 80.0] if order == "asc" else [80.0, 80.0, 20.0])


@pytest.mark.parametrize("sort", filters.SORTS)
def test_every_sort_column_runs_both_ways(app, visits, sort):
    with app.test_request_context():
        for order in filters.ORDERS:
            assert len(db.session.scalars(filters.select_visits(
                user=_user("adm-x"), filters=_load(sort=sort, order=order))).all()) == 6


def test_the_schema_refuses_bad_values_naming_the_field(app):
    with app.test_request_context():
        with pytest.raises(ValidationError) as caught:
            _load(score_min=50, score_max=10)
        assert set(caught.value.messages) == {"score_max"}
        with pytest.raises(ValidationError) as caught:
            _load(per_page=500)
        assert set(caught.value.messages) == {"per_page"}


def test_look_ups_are_422_and_scope_is_403(app, visits):
    with app.test_request_context():
        with pytest.raises(ValidationFailed) as caught:
            filters.visit_conditions(user=_user("adm-x"), filters={"region": "NOPE"})
        assert caught.value.errors == {"query": {"region": ["No region 'NOPE'."]}}
        with pytest.raises(Forbidden) as caught:
            filters.visit_conditions(user=_user("sup-north"), filters={"region": "SOUTH"})
        assert caught.value.code == "out_of_scope"
        lenient = filters.select_visits(user=_user("adm-x"), filters={"office": "NOPE"},
                                        strict=False)
        assert db.session.scalars(lenient).all() == []


def test_filter_choices_are_what_the_user_may_pick(app, visits):
    with app.test_request_context():
        north = filters.filter_choices(user=_user("sup-north"), lang="ru")
        assert [r["code"] for r in north["regions"]] == ["NORTH"]
        assert [o["code"] for o in north["offices"]] == ["N-1", "N-2"]
        assert north["offices"][0]["name"] == "Центр один"
        assert [i["login"] for i in north["inspectors"]] == ["insp-x"]
        assert north["forms"] == [{"form_key": "export-form", "form_version": 1},
                                  {"form_key": "export-form", "form_version": 2}]
        everything = filters.filter_choices(user=_user("adm-x"))
        assert [r["code"] for r in everything["regions"]] == ["NORTH", "SOUTH"]
        assert everything["statuses"] == list(filters.STATUSES)


def test_query_args_give_back_a_link_to_the_same_view(app):
    with app.test_request_context():
        loaded = _load(**{"from": "2026-07-01", "to": "2026-07-31"}, score_min=50,
                       has_evidence="true", sort="score", order="desc", page=3)
        args = filters.query_args(loaded)
        assert args == {"period": "2026-07-01..2026-07-31", "score_min": "50",
                        "has_evidence": "true", "sort": "score"}
        again = _load(**args)
        assert again["period"] == loaded["period"]


def test_every_flag_the_checks_raise_is_a_known_filter_value():
    import pathlib
    import re
    source = "".join(p.read_text() for p in sorted(pathlib.Path("server/visits").glob("*.py")))
    raised = set(re.findall(r'FlagSpec\("([a-z_]+)"', source))
    assert raised and raised <= set(filters.FLAG_KINDS)
