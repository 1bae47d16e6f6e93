"""Real receivers on loopback: an HTTP server taking webhooks, an SMTP server (aiosmtpd)."""
from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[dict] = []
        self.status = 200
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.arrived:
                    receiver.received.append({"headers": dict(self.headers), "body": body,
                                              "path": self.path, "at": time.time()})
                    receiver.arrived.notify_all()
                self.send_response(receiver.status)
                if 300 <= receiver.status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 10) -> list[dict]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= n, timeout)
        return self.received


class MailReceiver:
    """aiosmtpd on loopback. With `tls_context` it offers STARTTLS and requires it, and takes
    AUTH (any user with the password "pw") only over TLS; each message records whether its
    session was encrypted and who signed in."""

    def __init__(self, tls_context=None) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult
        self.messages: list = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                with receiver.arrived:
                    receiver.messages.append({"to": envelope.rcpt_tos, "at": time.time(),
                                              "data": envelope.content,
                                              "tls": session.ssl is not None,
                                              "login": getattr(session.auth_data, "login",
                                                               None)})
                    receiver.arrived.notify_all()
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data):
            return AuthResult(success=auth_data.password == b"pw", auth_data=auth_data)

        with socket.socket() as probe:  # a free port (aiosmtpd cannot be given port 0)
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        tls = {} if tls_context is None else {
            "tls_context": tls_context, "require_starttls": True, "authenticator": authenticate,
            "auth_require_tls": True}
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port, **tls)
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{port}"

    def wait(self, n: int, timeout: float = 10) -> list:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= n, timeout)
        return self.messages


@pytest.fixture(scope="module")
def webhook_receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture(scope="module")
def mail_receiver():
    receiver = MailReceiver()
    yield receiver
    receiver.controller.stop()


@pytest.fixture
def hooks(webhook_receiver):
    webhook_receiver.received.clear()
    webhook_receiver.status = 200
    return webhook_receiver


@pytest.fixture
def mail(mail_receiver):
    mail_receiver.messages.clear()
    return mail_receiver
