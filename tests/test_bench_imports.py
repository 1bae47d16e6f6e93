"""Every name a benchmark imports exists, also the imports inside functions: the benchmarks are
run by hand, so a renamed helper would otherwise only show when someone next measures."""
from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _imports():
    for path in sorted(BENCH.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                    and node.module.split(".")[0] in ("bench", "server", "tests"):
                for alias in node.names:
                    yield pytest.param(node.module, alias.name,
                                       id=f"{path.name}:{node.lineno}:{alias.name}")


@pytest.mark.parametrize(("module", "name"), list(_imports()))
def test_the_imported_name_exists(module, name):
    imported = importlib.import_module(module)
    assert hasattr(imported, name) or importlib.util.find_spec(f"{module}.{name}"), \
        f"{module} has no {name}"
