"""Read a form file: safe YAML (no aliases, no tags, no deep nesting, no duplicate keys), at
most 1 MiB; and write a definition back out (readable YAML, canonical JSON and its SHA-256).

`load_form_file` reads a file and checks it whole with definition.check_definition. Nothing here
touches Flask or the database.
"""
from __future__ import annotations

import copy
import hashlib
import json
import threading
import re
from pathlib import Path
from typing import Any

import yaml

from .definition import FormInvalid, Problem, check_definition

MAX_FILE_BYTES = 1024 * 1024
MAX_YAML_DEPTH = 64          # a form file is about 8 levels deep; more is a mistake or an attack


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors and aliases ("billion laughs"), without deep nesting, and without
    duplicate keys (YAML would silently keep the last one, hiding a mistake)."""

    _depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "anchors and aliases are not allowed",
                                              event.start_mark)
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(None, None, "anchors and aliases are not allowed",
                                              event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: set = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    key = self.construct_object(key_node)  # `1` and `01` are the same key
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            "while reading a mapping", node.start_mark,
                            f"duplicate key {key_node.value!r}", key_node.start_mark)
                    seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 reads yes/no/on/off as booleans, which turns `score: {yes: 1, no: 0}` into
# {True: 1, False: 0}. Form files follow YAML 1.2 here: only true/false are booleans.
_BOOL = "tag:yaml.org,2002:bool"
_NoAliasLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_NoAliasLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                     list("tTfF"))


# The pure-Python YAML parser (needed for the alias and depth checks above) takes ~70 ms for the
# default checklist, while the same bytes are read again and again: every `adal demo` and
# `forms publish` run, every test world. Parsed documents are kept by the SHA-256 of their bytes
# (the last few, copied out so that no caller can change the kept one); a refused file is
# parsed, and refused, every time.
_PARSED: dict[bytes, Any] = {}
_PARSED_KEEP = 8
_PARSED_LOCK = threading.Lock()


def read_yaml(raw: bytes, source: str) -> Any:
    """Parse a form file's bytes: UTF-8, at most 1 MiB, plain YAML (no aliases, no tags)."""
    if len(raw) > MAX_FILE_BYTES:
        raise FormInvalid(source, [Problem("", f"the file is {len(raw)} bytes; the limit is "
                                               f"{MAX_FILE_BYTES}")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormInvalid(source, [Problem("", f"not UTF-8 (byte {exc.start})")]) from exc
    digest = hashlib.sha256(raw).digest()
    with _PARSED_LOCK:
        parsed = _PARSED.get(digest)
    if parsed is not None:
        return copy.deepcopy(parsed)
    try:
        parsed = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise FormInvalid(source, [Problem("", f"not valid YAML: {exc}")]) from exc
    except RecursionError as exc:
        raise FormInvalid(source, [Problem("", "nested too deeply")]) from exc
    with _PARSED_LOCK:
        if len(_PARSED) >= _PARSED_KEEP:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[digest] = parsed
    return copy.deepcopy(parsed)


def read_form_file(path: str | Path) -> Any:
    """Parse a form file, reading no more of it than the size limit allows."""
    path = Path(path)
    with path.open("rb") as file:
        raw = file.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise FormInvalid(path.name, [Problem("", f"the file is {path.stat().st_size} bytes; "
                                                  f"the limit is {MAX_FILE_BYTES}")])
    return read_yaml(raw, path.name)


def load_form_file(path: str | Path) -> dict:
    """Read and check one form file; returns the normalised definition."""
    path = Path(path)
    return check_definition(read_form_file(path), path.name)


def to_yaml(definition: dict) -> str:
    """A definition as a readable form file: empty optional fields left out."""
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()
                    if v is not None and v != [] and v != {} and v != ""}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value
    return yaml.safe_dump(clean(definition), allow_unicode=True, sort_keys=False, width=100)


def canonical_json(definition: dict) -> str:
    return json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def definition_sha256(definition: dict) -> str:
    """The identity of a version's content: SHA-256 of its canonical JSON."""
    return hashlib.sha256(canonical_json(definition).encode("utf-8")).hexdigest()
