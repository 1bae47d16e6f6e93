"""Email alerts over TLS: STARTTLS against a real aiosmtpd with a certificate from a private CA
(ADAL_SMTP_CA_FILE), a certificate that does not verify, and a password never sent in clear."""
from __future__ import annotations

import datetime
import ipaddress
import ssl

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.alerts.models import Delivery
from server.extensions import db

from .receivers import MailReceiver, hooks, mail, mail_receiver, webhook_receiver  # noqa: F401
from .test_delivery import _deliveries, _submit, alerting  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "adal-test-smtp")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture(scope="module")
def tls_receiver(certificate):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    receiver = MailReceiver(tls_context=context)
    yield receiver
    receiver.controller.stop()


@pytest.fixture
def tls_mail(tls_receiver):
    tls_receiver.messages.clear()
    return tls_receiver


def _errors(app) -> list[str]:
    with app.app_context():
        return [d.last_error for d in db.session.scalars(sa.select(Delivery)) if d.last_error]


def _with_login(url: str) -> str:
    return url.replace("smtp://", "smtp://alerts:pw@", 1)


def test_starttls_with_a_private_ca_delivers_signed_in_over_tls(
        app, client, alerting, default_form, tls_mail, certificate):
    app.config.update(SMTP_URL=_with_login(tls_mail.url), SMTP_CA_FILE=str(certificate[0]))
    _submit(client, alerting, default_form, D01="yes")
    assert ("email", "delivered", 1) in _deliveries(app)
    [message] = tls_mail.wait(1)
    assert message["tls"] and message["login"] == b"alerts"
    assert message["to"] == ["integrity@example.org"]


def test_a_certificate_that_does_not_verify_is_a_failed_delivery_not_a_cleartext_one(
        app, client, alerting, default_form, tls_mail):
    app.config.update(SMTP_URL=_with_login(tls_mail.url), SMTP_CA_FILE="")
    _submit(client, alerting, default_form, D01="yes")
    assert ("email", "failed", 1) in _deliveries(app)
    assert tls_mail.messages == []
    errors = _errors(app)
    assert any("CERTIFICATE_VERIFY_FAILED" in e for e in errors), errors


def test_a_password_is_never_sent_to_a_server_without_starttls(
        app, client, alerting, default_form, mail):
    app.config.update(SMTP_URL=_with_login(mail.url))  # aiosmtpd without TLS: no STARTTLS
    _submit(client, alerting, default_form, D01="yes")
    assert ("email", "failed", 1) in _deliveries(app)
    assert mail.messages == []
    errors = _errors(app)
    assert any("offers no STARTTLS" in e for e in errors), errors
