"""The checklist expression language: the shared vectors, properties, limits and error positions."""
from __future__ import annotations

import ast
import dataclasses
import json
import math
import operator
import pickle
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from server.forms import expressions
from server.forms.expressions import KEYWORDS, MAX_DEPTH, MAX_LENGTH, ExpressionError, parse

VECTOR_FILE = Path(__file__).resolve().parents[2] / "survey_forms" / "expression_vectors.json"
VECTORS = json.loads(VECTOR_FILE.read_text(encoding="utf-8"))
PROPERTY = settings(deadline=None, database=None, max_examples=150)


def same(a: Any, b: Any) -> bool:
    """Equal as language values: booleans are not numbers, numbers by value, lists item by item."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def vector_id(item: dict) -> str:
    """A short, readable pytest id."""
    expr = item["expression"] if len(item["expression"]) <= 40 else item["expression"][:37] + "..."
    return f"{expr} | {json.dumps(item.get('answers', {}), ensure_ascii=False)[:40]}"


# ---- the shared vectors -------------------------------------------------------------------------

def test_vector_file_covers_the_language():
    assert VECTORS["version"] == 1
    assert len(VECTORS["vectors"]) >= 80 and len(VECTORS["errors"]) >= 20
    for item in VECTORS["vectors"]:
        assert set(item) <= {"expression", "answers", "current", "expected"} and "expected" in item
    for item in VECTORS["errors"]:
        assert set(item) == {"expression", "reason", "position"}
    exprs = [item["expression"] for item in VECTORS["vectors"]]
    for needle in ("==", "!=", "<", "<=", ">", ">=", " in ", "+", "-", "*", "/", "and", "or", "not",
                   "selected(", "count_selected(", "answered(", "(", "[", "'", '"', "."):
        assert any(needle in e for e in exprs), needle
    assert any("current" in item for item in VECTORS["vectors"])
    assert any(any("\u0400" <= c <= "\u04ff" for c in e) for e in exprs)  # Kazakh / Cyrillic


@pytest.mark.parametrize("item", VECTORS["vectors"], ids=vector_id)
def test_vector(item):
    expr = parse(item["expression"])
    value = expr.evaluate(item["answers"], item.get("current"))
    assert same(value, item["expected"]), f"{item['expression']!r} gave {value!r}"
    assert expr.holds(item["answers"], item.get("current")) is (item["expected"] is True)


@pytest.mark.parametrize("item", VECTORS["errors"], ids=lambda item: f"{item['reason']} | {item['expression'][:30]}")
def test_error_vector(item):
    with pytest.raises(ExpressionError) as info:
        parse(item["expression"])
    assert info.value.position == item["position"]
    assert str(info.value) == f"{info.value.message} at {item['position']}"


# ---- errors: messages and positions -------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("A == 1)", "unexpected ')' at 6"),
    ("foo(A)", "unknown function 'foo' at 0"),
    ("A ==", "unexpected end of expression at 4"),
    ("A == 'yes", "unterminated string at 5"),
    ("1 < A < 5", "comparisons cannot be chained (use 'and') at 6"),
    ("selected(A)", "selected() takes 2 arguments, got 1 at 0"),
    ("answered(A, B)", "answered() takes 1 argument, got 2 at 0"),
    ("A = 'x'", "unexpected character '=' (use '==' to compare) at 2"),
    ("x.y", "attribute access is not supported at 1"),
    ("x[0]", "indexing is not supported at 1"),
])
def test_error_messages_name_the_problem_and_the_offset(text, message):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert str(info.value) == message


def test_expression_error_is_a_value_error_and_pickles():
    error = ExpressionError("unexpected ')'", 7)
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.position, str(copy)) == ("unexpected ')'", 7, "unexpected ')' at 7")


def test_a_non_string_is_a_type_error():
    with pytest.raises(TypeError):
        parse(42)  # type: ignore[arg-type]


# ---- limits ---------------------------------------------------------------------------------------

def test_length_limit_is_inclusive():
    assert parse("1" + " " * (MAX_LENGTH - 1)).evaluate({}) == 1
    assert parse("'" + "a" * (MAX_LENGTH - 2) + "'").evaluate({}) == "a" * (MAX_LENGTH - 2)
    for text in ("1" + " " * MAX_LENGTH, "'" + "a" * (MAX_LENGTH - 1) + "'", "(" * (MAX_LENGTH + 1)):
        with pytest.raises(ExpressionError) as info:
            parse(text)
        assert info.value.position == MAX_LENGTH and "longer than 2000" in info.value.message


NESTINGS = {
    "parentheses": lambda n: "(" * n + "1" + ")" * n,
    "not": lambda n: "not " * n + "true",
    "unary minus": lambda n: "- " * n + "1",
    "calls": lambda n: "selected(M, " * n + "'a'" + ")" * n,
    "mixed": lambda n: "".join(("(", "not ", "-")[k % 3] for k in range(n)) + "1" + ")" * ((n + 2) // 3),
}


@pytest.mark.parametrize("kind", NESTINGS)
def test_nesting_limit_is_inclusive(kind):
    build = NESTINGS[kind]
    parse(build(MAX_DEPTH)).evaluate({"M": [True, "a"]})
    text = build(MAX_DEPTH + 1)
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert info.value.message == f"nesting deeper than {MAX_DEPTH}"
    assert text[info.value.position] in "(n-s"  # the construct that opened level 51


def test_long_flat_chains_do_not_count_as_nesting():
    assert parse(" + ".join(["1"] * 500)).evaluate({}) == 500
    assert parse(" - ".join(["1"] * 500)).evaluate({}) == -498
    assert parse(" or ".join(["false"] * 199 + ["true"])).holds({}) is True
    assert parse(" and ".join(["A == 1"] * 150)).holds({"A": 1}) is True


def test_the_deepest_expressions_fit_in_a_small_stack():
    """Depth 50 of the costliest nesting needs under 500 Python frames, far from the default 1000."""
    frame, used = sys._getframe(), 0
    while frame:
        frame, used = frame.f_back, used + 1
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(used + 500)
    try:
        for build in NESTINGS.values():
            parse(build(MAX_DEPTH)).evaluate({"M": [True, "a"]})
    finally:
        sys.setrecursionlimit(limit)


# ---- the API ------------------------------------------------------------------------------------

def test_references_include_function_arguments_and_exclude_keywords():
    expr = parse("selected(M, O) or count_selected(N) > 1 and answered(P) and not Q == . or true != null")
    assert expr.references == frozenset({"M", "O", "N", "P", "Q"})
    assert expr.uses_current is True
    assert parse("true and not null or 1 in [2, 'x']").references == frozenset()
    assert parse("A01 == 'yes'").uses_current is False


def test_a_function_name_without_a_call_is_a_question_id():
    assert parse("answered == 1").references == frozenset({"answered"})


def test_expression_is_immutable_and_keeps_its_source():
    text = "  A ==   'yes' "
    expr = parse(text)
    assert expr.source == text
    with pytest.raises(dataclasses.FrozenInstanceError):
        expr.source = "B"  # type: ignore[misc]
    assert expr == parse(text) and hash(expr) == hash(parse(text))


def test_list_results_are_fresh_copies():
    expr = parse("['a', 'b']")
    expr.evaluate({}).append("c")
    assert expr.evaluate({}) == ["a", "b"]


def test_parse_once_evaluate_many_times_with_any_mapping():
    expr = parse("A > 2 and selected(M, 'x')")
    answers = {"A": 3, "M": ["x"]}
    assert expr.holds(MappingProxyType(answers)) is True
    assert expr.holds({"A": 1, "M": ["x"]}) is False
    assert expr.holds(answers) is True
    assert answers == {"A": 3, "M": ["x"]}


def test_non_finite_and_overflowing_numbers_become_null():
    assert parse("A * 2").evaluate({"A": 1e308}) is None
    assert parse("A + 0.5").evaluate({"A": 10**400}) is None
    assert parse("A / 3").evaluate({"A": 10**400}) is None
    assert parse("A - A").evaluate({"A": math.inf}) is None
    assert parse("-A").evaluate({"A": math.inf}) is None


def test_other_python_values_equal_nothing_and_do_not_raise():
    point = {"lat": 43.2, "lon": 76.9}
    expr = parse("A == A or A in [1] or A < 1 or A + 1 == 2 or selected(A, 'x')")
    assert expr.evaluate({"A": point}) is False
    assert parse("answered(A)").holds({"A": point}) is True
    assert parse("A == B").evaluate({"A": (1, 2), "B": [1, 2]}) is True  # tuples are lists


def test_the_module_never_uses_eval_exec_or_compile():
    tree = ast.parse(Path(expressions.__file__).read_text(encoding="utf-8"))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not names & {"eval", "exec", "compile", "literal_eval", "__import__", "getattr", "globals"}
    imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"annotations", "__future__", "math", "operator", "collections.abc", "Callable",
                        "Mapping", "dataclasses", "dataclass", "field", "typing", "Any", "NamedTuple"}


# ---- properties -----------------------------------------------------------------------------------

POOL = ["A", "B", "C", "q1", "_x"]
WIDE_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(lambda s: s not in KEYWORDS)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
VALUES = st.recursive(
    SCALARS | st.builds(object),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=8)
ANSWERS = st.dictionaries(st.sampled_from(POOL), VALUES, max_size=len(POOL))
FRAGMENTS = ["A", "B1", "_", ".", "(", ")", "[", "]", ",", "'x'", '"y"', "'", '"', "\\", "1", "2.5", "007",
             "-", "+", "*", "/", "==", "!=", "<", "<=", ">", ">=", "=", "!", "in", "and", "or", "not", "true",
             "false", "null", "selected", "count_selected", "answered", "__import__", ";", "`", "ә", "\u00a0",
             " ", "\t", "\n", "1e5", ".5", "lambda", ":"]
SOUP = st.lists(st.sampled_from(FRAGMENTS), max_size=40).flatmap(
    lambda parts: st.sampled_from(["".join(parts), " ".join(parts)]))
BINARY = ["==", "!=", "<", "<=", ">", ">=", "in", "+", "-", "*", "/", "and", "or"]
CHAINABLE = ["+", "-", "*", "/", "and", "or"]


def quote(text: str) -> str:
    """A string literal for `text`."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def expression_texts(names: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, frozenset, bool]]:
    """Valid expressions as (text, question ids used, uses `.`), every operand parenthesised."""
    literal = (st.integers(0, 10**6).map(str) | st.sampled_from(["true", "false", "null", "2.5", "0.0"])
               | st.text(max_size=6).map(quote))
    question = names.map(lambda n: (n, frozenset({n}), False, 0)) | st.just((".", frozenset(), True, 0))
    leaves = (question | literal.map(lambda t: (t, frozenset(), False, 0))
              | st.lists(literal | st.integers(-9, -1).map(str), max_size=4).map(
                  lambda xs: ("[" + ", ".join(xs) + "]", frozenset(), False, 0)))

    def grow(inner):
        """Combinations one level up; the last item tracks the nesting depth."""
        def join(parts, ops):
            text = f"({parts[0][0]})" + "".join(f" {op} ({p[0]})" for op, p in zip(ops, parts[1:]))
            return (text, frozenset().union(*(p[1] for p in parts)), any(p[2] for p in parts),
                    1 + max(p[3] for p in parts))
        binary = st.tuples(inner, st.sampled_from(BINARY), inner).map(lambda t: join([t[0], t[2]], [t[1]]))
        chain = st.lists(inner, min_size=3, max_size=4).flatmap(
            lambda parts: st.lists(st.sampled_from(CHAINABLE), min_size=len(parts) - 1,
                                   max_size=len(parts) - 1).map(lambda ops: join(parts, ops)))
        unary = st.tuples(st.sampled_from(["not", "-"]), inner).map(
            lambda t: (f"{t[0]} ({t[1][0]})", t[1][1], t[1][2], t[1][3] + 2))
        calls = st.tuples(question, inner).map(
            lambda t: (f"selected({t[0][0]}, {t[1][0]})", t[0][1] | t[1][1], t[0][2] or t[1][2], t[1][3] + 1))
        single = st.tuples(st.sampled_from(["count_selected", "answered"]), question).map(
            lambda t: (f"{t[0]}({t[1][0]})", t[1][1], t[1][2], 1))
        return binary | chain | unary | calls | single

    return st.recursive(leaves, grow, max_leaves=12).filter(lambda t: t[3] <= MAX_DEPTH).map(lambda t: t[:3])


def language_value(value: Any) -> bool:
    """Whether `value` is a value the language itself produces."""
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return not math.isinf(value)
    return isinstance(value, list)


@PROPERTY
@given(st.text(max_size=60) | SOUP)
def test_parse_raises_only_expression_error(text):
    try:
        expr = parse(text)
    except ExpressionError as error:
        assert 0 <= error.position <= len(text)
        return
    assert expr.source == text
    assert all(ref in text for ref in expr.references)
    assert isinstance(expr.holds({"A": 1, "B1": ["x"]}, current="x"), bool)


@PROPERTY
@given(expression_texts(st.sampled_from(POOL)), ANSWERS, VALUES)
def test_valid_expressions_evaluate_on_any_answers(generated, answers, current):
    text, _, _ = generated
    expr = parse(text)
    value = expr.evaluate(answers, current)
    assert language_value(value) or value is current or any(value is v for v in answers.values())
    assert expr.holds(answers, current) is (value is True)
    assert parse(f"not ({text})").holds(answers, current) is not expr.holds(answers, current)


@PROPERTY
@given(expression_texts(WIDE_NAMES))
def test_references_are_exactly_the_question_ids_used(generated):
    text, references, uses_current = generated
    expr = parse(text)
    assert expr.references == references
    assert expr.uses_current is uses_current


@PROPERTY
@given(VALUES, VALUES)
def test_equality_is_symmetric_and_not_equal_is_its_negation(a, b):
    answers = {"A": a, "B": b}
    equal = parse("A == B").evaluate(answers)
    assert equal is parse("B == A").evaluate(answers)
    assert parse("A != B").evaluate(answers) is (not equal)


@PROPERTY
@given(st.integers(-10**6, 10**6) | st.floats(-1e6, 1e6), st.integers(-10**6, 10**6) | st.floats(-1e6, 1e6),
       st.sampled_from(["+", "-", "*", "/", "<", "<=", ">", ">="]))
def test_numbers_follow_ieee_arithmetic_and_order(a, b, op):
    got = parse(f"A {op} B").evaluate({"A": a, "B": b})
    python = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
              "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]
    expected = None if op == "/" and b == 0 else python(a, b)
    if isinstance(expected, float) and math.isinf(expected):
        expected = None
    assert got == expected


@PROPERTY
@given(st.text(max_size=8), st.text(max_size=8))
def test_strings_order_by_code_point(a, b):
    assert parse("A < B").evaluate({"A": a, "B": b}) is ([ord(c) for c in a] < [ord(c) for c in b])


@PROPERTY
@given(st.text(max_size=30))
def test_string_literals_round_trip(text):
    assert parse(quote(text)).evaluate({}) == text
    double = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    assert parse(double).evaluate({}) == text
