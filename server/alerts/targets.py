"""Webhook targets: http(s) URLs on public addresses only, unless an admin allows private ones
(ADAL_ALERTS_ALLOW_PRIVATE_TARGETS): the guard against server-side request forgery."""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from flask import current_app


def _addresses(host: str, port: int) -> list[str]:
    return sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


def refuse_private_target(url: str) -> str | None:
    """Why `url` may not be a webhook target, or None when it may."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "Not a URL."
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Give an http:// or https:// URL."
    if parts.username or parts.password:
        return "No user name or password in the URL; the secret signs the body."
    if current_app.config["ALERTS_ALLOW_PRIVATE_TARGETS"]:
        return None
    try:
        addresses = _addresses(parts.hostname, port)
    except (OSError, UnicodeError):
        return f"The host {parts.hostname} cannot be resolved."
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            return (f"{parts.hostname} is a private, loopback or reserved address ({address}); "
                    "refused unless ADAL_ALERTS_ALLOW_PRIVATE_TARGETS is on.")
    return None
