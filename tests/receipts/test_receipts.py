"""Signed receipts (issue 12): visits and evidence answered with a receipt that verifies with the
published key, by the CLI and by openssl; tampering, another key and an unknown key are named."""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
import shutil
import subprocess

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from server.audit.models import AuditEvent
from server.extensions import db
from server.receipts import service
from server.receipts.models import ReceiptKey
from tests.media.conftest import Tus, jpeg_bytes
from tests.visits.builders import visit_payload

FIELDS = {"kind", "subject", "sha256", "size", "received_at", "audit_event", "key_id",
          "signature"}


def _submit(client, world, default_form):
    body = visit_payload(default_form, assignment=world["assignment"])
    resp = client.post("/api/v1/visits", json=body, headers=world["inspector"])
    assert resp.status_code == 201, resp.json
    return body, resp


def _keys(client) -> dict:
    resp = client.get("/api/v1/receipts/keys")  # no sign-in
    assert resp.status_code == 200
    return {k["key_id"]: k["public_key"] for k in resp.json["keys"]}


def _signed_bytes(receipt: dict) -> bytes:
    return json.dumps({k: v for k, v in receipt.items() if k != "signature"}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False).encode()


def test_a_stored_visit_comes_with_a_receipt_that_verifies(client, world, default_form, app):
    body, resp = _submit(client, world, default_form)
    receipt = resp.json["receipt"]
    assert set(receipt) == FIELDS
    assert (receipt["kind"], receipt["subject"]) == ("visit", body["uuid"])
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert receipt["sha256"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert receipt["size"] == len(canonical.encode())
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(
            AuditEvent.action == "visit_submitted"))
        assert receipt["audit_event"] == event.seq
    # Verified independently of Adal's code: the published raw key and the canonical bytes.
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(_keys(client)[receipt["key_id"]]))
    public.verify(base64.b64decode(receipt["signature"]), _signed_bytes(receipt))


def test_a_replay_gets_the_same_receipt(client, world, default_form):
    body, first = _submit(client, world, default_form)
    again = client.post("/api/v1/visits", json=body, headers=world["inspector"])
    assert again.status_code == 200
    assert again.json["receipt"] == first.json["receipt"]


def test_a_completed_upload_answers_with_an_evidence_receipt(client, inspector_headers):
    data = jpeg_bytes(width=64, height=48, seed=3)
    resp = Tus(client, inspector_headers).send(data, filename="door.jpg")
    assert resp.status_code == 204
    receipt = json.loads(base64.b64decode(resp.headers["Adal-Receipt"]))
    sha = hashlib.sha256(data).hexdigest()
    assert (receipt["kind"], receipt["subject"], receipt["sha256"], receipt["size"]) == (
        "evidence", sha, sha, len(data))
    assert isinstance(receipt["audit_event"], int)
    keys = _keys(client)
    with client.application.app_context():
        assert service.verify(receipt, keys) == receipt


@pytest.fixture
def receipt_file(client, world, default_form, tmp_path):
    _, resp = _submit(client, world, default_form)
    def write(receipt=None, name="receipt.json"):
        path = tmp_path / name
        path.write_text(json.dumps(receipt or resp.json["receipt"]), encoding="utf-8")
        return path
    write.receipt = resp.json["receipt"]
    return write


def test_the_cli_verifies_a_good_receipt(runner, receipt_file):
    result = runner.invoke(args=["adal", "receipts", "verify", str(receipt_file())])
    assert result.exit_code == 0, result.output
    assert "verified: visit" in result.output


@pytest.mark.parametrize("change, reason", [
    (lambda r: {**r, "size": r["size"] + 1}, "the signature does not match"),
    (lambda r: {**r, "received_at": r["received_at"].replace("T", "t")},
     "the signature does not match"),
    (lambda r: {**r, "key_id": "0123456789abcdef"}, "unknown key id"),
    (lambda r: {**r, "signature": "not base64!"}, "not base64"),
    (lambda r: {k: v for k, v in r.items() if k != "audit_event"}, "missing fields: audit_event"),
    (lambda r: {**r, "extra": 1}, "unknown fields: extra"),
])
def test_the_cli_names_what_is_wrong(runner, receipt_file, change, reason):
    result = runner.invoke(args=["adal", "receipts", "verify",
                                 str(receipt_file(change(receipt_file.receipt)))])
    assert result.exit_code == 1
    assert reason in result.output


def test_one_changed_byte_anywhere_fails(runner, receipt_file):
    receipt = receipt_file.receipt
    flipped = {**receipt, "sha256": ("0" if receipt["sha256"][0] != "0" else "1")
               + receipt["sha256"][1:]}
    result = runner.invoke(args=["adal", "receipts", "verify", str(receipt_file(flipped))])
    assert result.exit_code == 1 and "the signature does not match" in result.output


def test_another_keys_signature_fails(runner, receipt_file):
    """Signed by a key that is not the one the receipt names (e.g. a forger's own key)."""
    receipt = dict(receipt_file.receipt)
    forged = Ed25519PrivateKey.generate().sign(_signed_bytes(receipt))
    receipt["signature"] = base64.b64encode(forged).decode()
    result = runner.invoke(args=["adal", "receipts", "verify", str(receipt_file(receipt))])
    assert result.exit_code == 1 and "the signature does not match" in result.output


def test_old_receipts_verify_after_the_key_is_rotated(app, client, runner, receipt_file):
    old = receipt_file.receipt
    app.config["SIGNING_KEY"] = base64.b64encode(b"\x07" * 32).decode()  # a new key
    with app.app_context():
        new_id, _ = service.signing_key()
        db.session.commit()
        rows = {k.key_id: k for k in db.session.scalars(sa.select(ReceiptKey))}
    assert rows[old["key_id"]].retired_at is not None and rows[new_id].retired_at is None
    listed = client.get("/api/v1/receipts/keys").json["keys"]
    assert [k["key_id"] for k in listed] == [old["key_id"], new_id]
    assert runner.invoke(args=["adal", "receipts", "verify", str(receipt_file(old))]).exit_code == 0


def test_a_pem_signing_key_is_accepted(app):
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    app.config["SIGNING_KEY"] = pem
    with app.app_context():
        receipt = service.sign(kind="visit", subject="x", sha256="0" * 64, size=1,
                               received_at=datetime.datetime(2026, 1, 1),
                               audit_event=None)
        keys = {k["key_id"]: k["public_key"] for k in service.public_keys()}
        assert service.verify(receipt, keys)["subject"] == "x"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_verifies_a_receipt_as_docs_receipts_md_shows(client, receipt_file, tmp_path):
    receipt = receipt_file.receipt
    raw = base64.b64decode(_keys(client)[receipt["key_id"]])
    # docs/receipts.md: the raw key under the fixed Ed25519 SubjectPublicKeyInfo prefix (DER)
    (tmp_path / "key.der").write_bytes(bytes.fromhex("302a300506032b6570032100") + raw)
    (tmp_path / "receipt.bin").write_bytes(_signed_bytes(receipt))
    (tmp_path / "receipt.sig").write_bytes(base64.b64decode(receipt["signature"]))
    ok = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "key.der",
                         "-rawin", "-in", "receipt.bin", "-sigfile", "receipt.sig"],
                        cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0 and "Signature Verified Successfully" in ok.stdout
    (tmp_path / "receipt.bin").write_bytes(_signed_bytes({**receipt, "size": 0}))
    bad = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "key.der",
                          "-rawin", "-in", "receipt.bin", "-sigfile", "receipt.sig"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode != 0


def test_an_amendment_gets_its_own_receipt(client, world, default_form, app):
    import copy
    import uuid

    from server.visits.models import Visit

    body, first = _submit(client, world, default_form)
    with app.app_context():
        visit = db.session.scalar(sa.select(Visit).where(Visit.uuid == uuid.UUID(body["uuid"])))
        visit.status = "returned"
        db.session.commit()
    amended = copy.deepcopy(body)
    next(a for a in amended["answers"] if a["question"] == "C02")["value"] = "no"
    resp = client.put(f"/api/v1/visits/{body['uuid']}", json=amended, headers=world["inspector"])
    assert resp.status_code == 200, resp.json
    receipt = resp.json["receipt"]
    canonical = json.dumps(amended, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert receipt["sha256"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert receipt["audit_event"] > first.json["receipt"]["audit_event"]
    with app.app_context():
        assert service.verify(receipt, _keys(client)) == receipt
