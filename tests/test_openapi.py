"""The OpenAPI document tells the truth about errors: problem+json, and ECMA-262 patterns."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from server.extensions import PROBLEM_JSON, ecma_pattern

METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


@pytest.fixture
def spec(client) -> dict:
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    return resp.get_json()


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _response(spec: dict, response: dict) -> dict:
    if "$ref" in response:
        return spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


def _patterns(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def test_the_problem_schema_replaces_flask_smorests_error(spec):
    schemas = spec["components"]["schemas"]
    assert "Error" not in schemas
    problem = schemas["Problem"]
    assert {"type", "title", "status", "detail", "code", "errors", "instance"} == \
        problem["properties"].keys()
    assert problem["properties"]["code"]["type"] == "string"
    assert problem["properties"]["status"]["type"] == "integer"
    assert "message" not in problem["properties"]


def test_every_error_response_is_problem_json(spec):
    seen = 0
    for path, method, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if status != "default" and int(status) < 400:
                continue
            content = _response(spec, response).get("content", {})
            assert list(content) == [PROBLEM_JSON], (method, path, status)
            assert content[PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}
            seen += 1
    assert seen > 100


def test_authenticated_operations_document_401_and_403(spec):
    for path, method, operation in _operations(spec):
        if operation.get("security") == []:
            continue
        assert {"401", "403"} <= operation["responses"].keys(), (method, path)


def test_public_operations_do_not_claim_a_403(spec):
    public = {(m, p) for p, m, op in _operations(spec) if op.get("security") == []}
    assert {("get", "/api/v1/public/reports/{slug}"), ("post", "/api/v1/auth/token")} <= public
    for path, method, operation in _operations(spec):
        if (method, path) in public:
            assert "403" not in operation["responses"], (method, path)


def test_the_token_endpoint_documents_wrong_credentials_and_rate_limits(spec):
    responses = spec["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert {"401", "422", "429"} <= responses.keys()


def test_operations_with_path_parameters_document_404(spec):
    for path, method, operation in _operations(spec):
        if "{" in path:
            assert "404" in operation["responses"], (method, path)


def test_operations_with_a_body_or_arguments_document_422(spec):
    for path, method, operation in _operations(spec):
        if "requestBody" in operation or operation.get("parameters"):
            assert "422" in operation["responses"], (method, path)


def test_no_pattern_uses_python_only_syntax(spec):
    patterns = set(_patterns(spec))
    assert "^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$" in patterns  # CODE_PATTERN, \Z rewritten
    for pattern in patterns:
        assert not re.search(r"\\[AZ]|\(\?P", pattern), pattern


@pytest.mark.parametrize("python, ecma", [
    (r"^a\Z", "^a$"),
    (r"\Aa", "^a"),
    (r"^a\\Z", r"^a\\Z"),            # an escaped backslash, then the letter Z
    (r"^(?P<y>\d{4})(?P=y)\Z", r"^(?<y>\d{4})\k<y>$"),
    (r"^[a-z]$", "^[a-z]$"),
])
def test_ecma_pattern_rewrites_python_only_syntax(python, ecma):
    assert ecma_pattern(python) == ecma


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is needed to run ECMA regexes")
def test_every_pattern_compiles_and_anchors_as_an_ecma_regex(spec):
    """What a JavaScript client or validator does with the spec's patterns."""
    script = """
const patterns = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = {};
for (const p of patterns) {
  try { const r = new RegExp(p, "u"); out[p] = {ok: true, code: r.test("AST-1"),
                                               newline: r.test("AST-1\\n")}; }
  catch (e) { out[p] = {ok: false, error: String(e)}; }
}
console.log(JSON.stringify(out));
"""
    patterns = sorted(set(_patterns(spec)))
    run = subprocess.run(["node", "-e", script], input=json.dumps(patterns), text=True,
                         capture_output=True, timeout=60, check=True)
    results = json.loads(run.stdout)
    assert all(r["ok"] for r in results.values()), results
    assert not any(r["newline"] for r in results.values()), results  # "$" is the very end
    assert results["^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"]["code"]
