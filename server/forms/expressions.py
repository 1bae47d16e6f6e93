"""Checklist expressions (`relevant`, `constraint.expr`, `critical`): a safe tokenizer, parser and evaluator.

Pure: no Flask, no database, never eval/exec. The semantics are pinned by
survey_forms/expression_vectors.json, which the inspector app runs too; docs/forms.md describes
the language for form authors.
"""
from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["FUNCTIONS", "KEYWORDS", "MAX_DEPTH", "MAX_LENGTH", "Expression", "ExpressionError", "parse", "truthy"]

MAX_LENGTH = 2000
MAX_DEPTH = 50
MAX_INTEGER = 2**53 - 1  # integer literals stay exact in JavaScript too
KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
FUNCTIONS = {"selected": 2, "count_selected": 1, "answered": 1}  # name -> number of arguments
_CONSTANTS = {"true": True, "false": False, "null": None}
_SPACE = frozenset(" \t\r\n")
_DIGITS = frozenset("0123456789")
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | _DIGITS
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "(", ")", "[", "]", ",", ".")
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=", "in")
_ESCAPES = frozenset("\\'\"")
_HINTS = {"=": " (use '==' to compare)", "!": " (use 'not' or '!=')", "&": " (use 'and')", "|": " (use 'or')"}
_POSTFIX = {".": "attribute access is not supported", "[": "indexing is not supported",
            "(": "only selected(), count_selected() and answered() can be called"}
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_KINDS = ((bool, "boolean"), ((int, float), "number"), (str, "string"), ((list, tuple), "list"))
# The exact built-in types first, by one lookup (expressions run for every question of every
# visit at intake); subclasses and anything else take the isinstance walk below.
_KIND_OF_TYPE = {type(None): "null", bool: "boolean", int: "number", float: "number",
                 str: "string", list: "list", tuple: "list"}


class ExpressionError(ValueError):
    """A malformed or over-limit expression; `position` is the 0-based character offset."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at {position}")
        self.message = message
        self.position = position

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with both arguments (errors may cross process boundaries)."""
        return (type(self), (self.message, self.position))


# ---- values -------------------------------------------------------------------------------------

def truthy(value: Any) -> bool:
    """Only boolean true is true; null, false, numbers, strings and lists are all false."""
    return value is True


def _kind(value: Any) -> str:
    """The language type of a Python value; anything unexpected (a dict, an object) is 'other'."""
    kind = _KIND_OF_TYPE.get(type(value))
    if kind is not None:
        return kind
    return next((name for types, name in _KINDS if isinstance(value, types)), "other")  # bool first


def _equal(a: Any, b: Any, depth: int = 0) -> bool:
    """`==`: same type and value, numbers by value, lists item by item; 'other' values equal nothing."""
    kind = _kind(a)
    if kind != _kind(b) or kind == "other":
        return False
    if kind == "list":
        return depth < MAX_DEPTH and len(a) == len(b) and all(_equal(x, y, depth + 1) for x, y in zip(a, b))
    return bool(a == b)


def _compare(op: str, a: Any, b: Any) -> bool | None:
    """A comparison or `in`; null where the operand types do not fit."""
    if op == "==":
        return _equal(a, b)
    if op == "!=":
        return not _equal(a, b)
    if op == "in":
        return any(_equal(a, item) for item in b) if _kind(b) == "list" else None
    kind = _kind(a)
    if kind != _kind(b) or kind not in ("number", "string"):
        return None
    return bool(_ORDER[op](a, b))  # strings: code point order, as Python compares them


def _finite(value: Any) -> Any:
    """Null instead of an infinite or NaN result."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _arith(op: str, a: Any, b: Any) -> Any:
    """Arithmetic on two numbers; null for anything else, division by zero or overflow."""
    if _kind(a) != "number" or _kind(b) != "number" or (op == "/" and b == 0):
        return None
    try:
        return _finite(_ARITH[op](a, b))
    except OverflowError:  # a huge int meeting a float
        return None


# ---- the tree: immutable tuples, ("kind", ...) -----------------------------------------------------

Node = tuple[Any, ...]  # ("const", v) ("list", items) ("answer", id) ("current",) ("not", n) ("and"|"or", nodes)
#               ("compare", op, l, r) ("arith", first, ((op, n), ...)) ("neg", n) ("call", name, args)


def _run(node: Node, answers: Mapping[str, Any], current: Any) -> Any:
    """The value of a tree node for the given answers."""
    kind = node[0]
    if kind == "const":
        return node[1]
    if kind == "list":
        return list(node[1])  # a fresh list: callers cannot change the tree
    if kind == "answer":
        return answers.get(node[1])
    if kind == "current":
        return current
    if kind == "not":
        return not truthy(_run(node[1], answers, current))
    if kind in ("and", "or"):
        check = all if kind == "and" else any
        return check(truthy(_run(n, answers, current)) for n in node[1])
    if kind == "compare":
        return _compare(node[1], _run(node[2], answers, current), _run(node[3], answers, current))
    if kind == "arith":
        value = _run(node[1], answers, current)
        for op, operand in node[2]:  # left-associative: `a - b - c` is `(a - b) - c`
            value = _arith(op, value, _run(operand, answers, current))
        return value
    if kind == "neg":
        value = _run(node[1], answers, current)
        return _finite(-value) if _kind(value) == "number" else None
    return _call(node[1], [_run(n, answers, current) for n in node[2]])


def _call(name: str, args: list[Any]) -> Any:
    """selected(q, x), count_selected(q), answered(q) on evaluated arguments."""
    value, is_list = args[0], _kind(args[0]) == "list"
    if name == "answered":
        return not (value is None or (isinstance(value, str) and value == "") or (is_list and not value))
    if name == "count_selected":
        return len(value) if is_list else (0 if value is None else 1)
    if value is None:
        return False
    return _equal(value, args[1]) or (is_list and any(_equal(item, args[1]) for item in value))


# ---- tokenizer and parser ------------------------------------------------------------------------

class _Token(NamedTuple):
    kind: str  # number, string, name, keyword, op, end
    value: Any
    pos: int
    text: str


def _scan_number(source: str, i: int) -> tuple[_Token, int]:
    """`12` or `2.5`: digits, optionally a dot and digits; no exponent, no leading or trailing dot."""
    j = i
    while source[j:j + 1] in _DIGITS:
        j += 1
    if j > i and source[j:j + 1] == "." and source[j + 1:j + 2] in _DIGITS:
        j += 1
        while source[j:j + 1] in _DIGITS:
            j += 1
    text = source[i:j]
    if not text or source[j:j + 1] in _NAME_CHARS or source[j:j + 1] == ".":
        raise ExpressionError("malformed number", i)
    value: int | float = float(text) if "." in text else int(text)
    if abs(value) > MAX_INTEGER if isinstance(value, int) else not math.isfinite(value):
        raise ExpressionError("number out of range", i)
    return _Token("number", value, i, text), j


def _scan_string(source: str, i: int) -> tuple[_Token, int]:
    r"""A quoted string; the only escapes are \\, \' and \"."""
    quote, j, out = source[i], i + 1, []
    while j < len(source):
        c = source[j]
        if c == quote:
            return _Token("string", "".join(out), i, source[i:j + 1]), j + 1
        if c == "\\" and j + 1 < len(source):
            if source[j + 1] not in _ESCAPES:
                raise ExpressionError(f"unknown escape '{source[j:j + 2]}'", j)
            c, j = source[j + 1], j + 1
        out.append(c)
        j += 1
    raise ExpressionError("unterminated string", i)


def _tokenize(source: str) -> list[_Token]:
    """The tokens of `source`, ending with an `end` token."""
    tokens, i = [], 0
    while i < len(source):
        c = source[i]
        if c in _SPACE:
            i += 1
            continue
        if c in _DIGITS or (c == "." and source[i + 1:i + 2] in _DIGITS):
            token, i = _scan_number(source, i)
        elif c in "'\"":
            token, i = _scan_string(source, i)
        elif c in _NAME_START:
            j = i + 1
            while source[j:j + 1] in _NAME_CHARS:
                j += 1
            word = source[i:j]
            token, i = _Token("keyword" if word in KEYWORDS else "name", word, i, word), j
        else:
            op = next((o for o in _OPERATORS if source.startswith(o, i)), None)
            if op is None:
                raise ExpressionError(f"unexpected character {c!r}{_HINTS.get(c, '')}", i)
            token, i = _Token("op", op, i, op), i + len(op)
        tokens.append(token)
    tokens.append(_Token("end", None, len(source), ""))
    return tokens


def _unexpected(token: _Token) -> ExpressionError:
    """The error for a token the grammar does not allow where it stands."""
    if token.kind == "end":
        return ExpressionError("unexpected end of expression", token.pos)
    what = {"name": f"name {token.text!r}", "number": f"number {token.text}", "string": "string"}
    return ExpressionError(f"unexpected {what.get(token.kind, repr(token.text))}", token.pos)


class _Parser:
    """Recursive descent, one method per precedence level, lowest first."""

    def __init__(self, source: str) -> None:
        self.tokens, self.index, self.depth = _tokenize(source), 0, 0
        self.references: set[str] = set()
        self.uses_current = False

    def take(self) -> _Token:
        """Consume the next token (the end token stays)."""
        token = self.tokens[self.index]
        self.index += token.kind != "end"
        return token

    def at(self, *values: str) -> bool:
        """Whether the next token is one of these operators or keywords."""
        token = self.tokens[self.index]
        return token.kind in ("op", "keyword") and token.value in values

    def expect(self, value: str) -> None:
        """Consume the operator `value` or fail."""
        if not self.at(value):
            raise _unexpected(self.tokens[self.index])
        self.take()

    def enter(self, token: _Token) -> None:
        """One level deeper (parenthesis, call, `not`, unary minus); the caller leaves with depth -= 1."""
        self.depth += 1
        if self.depth > MAX_DEPTH:  # bounds the recursion of both the parser and the evaluator
            raise ExpressionError(f"nesting deeper than {MAX_DEPTH}", token.pos)

    def logic(self, word: str) -> Node:
        """`a or b or ...` (word "or") over `a and b and ...` (word "and"), kept flat."""
        operands = [self.logic("and") if word == "or" else self.negation()]
        while self.at(word):
            self.take()
            operands.append(self.logic("and") if word == "or" else self.negation())
        return operands[0] if len(operands) == 1 else (word, tuple(operands))

    def negation(self) -> Node:
        """`not x`, looser than comparisons: `not a == b` is `not (a == b)`."""
        if not self.at("not"):
            return self.comparison()
        self.enter(self.take())
        node = ("not", self.negation())
        self.depth -= 1
        return node

    def comparison(self) -> Node:
        """At most one comparison or `in`: `a < b < c` is refused."""
        left = self.arith("+-")
        if not self.at(*_COMPARISONS):
            return left
        op = self.take().value
        right = self.arith("+-")
        if self.at(*_COMPARISONS):
            raise ExpressionError("comparisons cannot be chained (use 'and')", self.tokens[self.index].pos)
        return ("compare", op, left, right)

    def arith(self, ops: str) -> Node:
        """`a + b - c` (ops "+-") over `a * b / c` (ops "*/"), left-associative, kept flat."""
        first, rest = self.arith("*/") if ops == "+-" else self.unary(), []
        while self.at(*ops):
            rest.append((self.take().value, self.arith("*/") if ops == "+-" else self.unary()))
        return ("arith", first, tuple(rest)) if rest else first

    def unary(self) -> Node:
        """`-x`."""
        if not self.at("-"):
            return self.primary()
        self.enter(self.take())
        node = ("neg", self.unary())
        self.depth -= 1
        return node

    def primary(self) -> Node:
        """A literal, an answer, `.`, a parenthesised expression, a list or a call."""
        token = self.take()
        node: Node
        if token.kind in ("number", "string"):
            node = ("const", token.value)
        elif token.kind == "keyword" and token.value in _CONSTANTS:
            node = ("const", _CONSTANTS[token.value])
        elif token.kind == "name" and self.at("("):
            node = self.call(token)
        elif token.kind == "name":
            self.references.add(token.value)
            node = ("answer", token.value)
        elif (token.kind, token.value) == ("op", "."):
            self.uses_current = True
            node = ("current",)
        elif (token.kind, token.value) == ("op", "("):
            self.enter(token)
            node = self.logic("or")
            self.expect(")")
            self.depth -= 1
        elif (token.kind, token.value) == ("op", "["):
            node = ("list", self.list_items())
        else:
            raise _unexpected(token)
        if self.at(*_POSTFIX):
            raise ExpressionError(_POSTFIX[self.tokens[self.index].value], self.tokens[self.index].pos)
        return node

    def call(self, name: _Token) -> Node:
        """A call after its name; the name, the argument count and the first argument are checked."""
        if name.value not in FUNCTIONS:
            raise ExpressionError(f"unknown function {name.value!r}", name.pos)
        self.enter(name)
        self.take()  # "("
        first, args = self.tokens[self.index], []
        if not self.at(")"):
            args.append(self.logic("or"))
            while self.at(","):
                self.take()
                args.append(self.logic("or"))
        self.expect(")")
        self.depth -= 1
        arity = FUNCTIONS[name.value]
        if len(args) != arity:
            plural = "s" if arity > 1 else ""
            raise ExpressionError(f"{name.value}() takes {arity} argument{plural}, got {len(args)}", name.pos)
        if args[0][0] not in ("answer", "current"):
            raise ExpressionError(f"{name.value}() takes a question id or '.' first", first.pos)
        return ("call", name.value, tuple(args))

    def list_items(self) -> tuple[Any, ...]:
        """`literal, ...]` after the `[`."""
        items = []
        if not self.at("]"):
            items.append(self.literal())
            while self.at(","):
                self.take()
                items.append(self.literal())
        self.expect("]")
        return tuple(items)

    def literal(self) -> Any:
        """A list item: a number (negative allowed), a string, true, false or null."""
        token = self.take()
        if token.kind == "op" and token.value == "-" and self.tokens[self.index].kind == "number":
            return -self.take().value
        if token.kind in ("number", "string"):
            return token.value
        if token.kind == "keyword" and token.value in _CONSTANTS:
            return _CONSTANTS[token.value]
        if token.kind == "name" or (token.kind == "op" and token.value in ("(", ".", "[", "-")):
            raise ExpressionError("list items must be literals", token.pos)
        raise _unexpected(token)


# ---- public API ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed expression: immutable; parse once, evaluate many times."""

    source: str
    references: frozenset[str]  # question ids mentioned anywhere, function arguments included
    uses_current: bool  # whether `.` appears
    tree: Node = field(repr=False, compare=False)

    def evaluate(self, answers: Mapping[str, Any], current: Any = None) -> Any:
        """The raw value: None (null), a bool, a number, a string or a list; never raises."""
        return _run(self.tree, answers, current)

    def holds(self, answers: Mapping[str, Any], current: Any = None) -> bool:
        """The value as a condition: only boolean true holds."""
        return truthy(self.evaluate(answers, current))


def parse(source: str) -> Expression:
    """Parse `source`; ExpressionError (with the character offset) if it is not a valid expression."""
    if not isinstance(source, str):
        raise TypeError(f"an expression is a string, not {type(source).__name__}")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters", MAX_LENGTH)
    parser = _Parser(source)
    tree = parser.logic("or")
    if parser.tokens[parser.index].kind != "end":
        raise _unexpected(parser.tokens[parser.index])
    return Expression(source, frozenset(parser.references), parser.uses_current, tree)
