"""Settings: working defaults for one machine, overridden by ADAL_* environment variables.

Every setting is documented in docs/configuration.md; keep the two in step.
"""
from __future__ import annotations

import base64
import os
import re
import secrets
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import argon2

PROJECT_ROOT = Path(__file__).resolve().parent.parent

LANGUAGES = ("kk", "ru", "en", "uz")

DEFAULTS = {
    # None means "derived at start-up" (see finalise()).
    "SECRET_KEY": None,
    "DATABASE_URL": None,
    "MEDIA_BACKEND": "local",
    "MEDIA_ROOT": str(PROJECT_ROOT / "media"),
    "MAX_REQUEST_BYTES": 10 * 1024 * 1024,
    "TOKEN_TTL_DAYS": 30,
    "LOGIN_RATE_LIMIT": "10 per minute; 30 per hour; 100 per day",
    "RATELIMIT_STORAGE_URI": "memory://",
    "PASSWORD_HASH_PROFILE": "RFC_9106_LOW_MEMORY",
    "PROXY_FIX_X_FOR": 0,
    "SESSION_COOKIE_SECURE": False,
    "SIGNING_KEY": None,  # Ed25519 seed, base64 (32 bytes); None: generated into the instance
    "SECURE_COOKIES": None,
    # A database that is reachable but does not answer must not hang requests (docs/deployment.md)
    "DB_CONNECT_TIMEOUT": 5,          # seconds to open a connection
    "DB_STATEMENT_TIMEOUT_MS": 10000,  # PostgreSQL: longest statement, then 503 with Retry-After
    "DB_TCP_TIMEOUT_MS": 10000,       # PostgreSQL: unacknowledged data on the socket (dropped packets)  # None: Secure cookies and HSTS whenever a non-debug run sees HTTPS
    "SESSION_LIFETIME_HOURS": 12,
    "DEFAULT_LANGUAGE": "ru",
    "PAGE_SIZE_MAX": 200,
    # Visits
    "TIMEZONE": "Asia/Almaty",
    "MAX_DISTANCE_M": 300,
    "ALLOW_UNPLANNED_VISITS": False,
    "CLOCK_SKEW_MINUTES": 10,
    "AUDIT_SEAL": None,  # background | inline | off (server/audit/seal.py); None: background
    # Reports (docs/reports.md)
    "BAND_GREEN_MIN": 71,
    "BAND_YELLOW_MIN": 55,
    "RANKING_MIN_VISITS": 3,
    # The office map (docs/reports.md "Map"): tiles from here; empty turns tiles off.
    "MAP_TILE_URL": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "MAP_TILE_ATTRIBUTION": '© <a href="https://www.openstreetmap.org/copyright">'
                            'OpenStreetMap</a> contributors',
}

MEDIA_BACKENDS = ("local", "s3")

# Evidence storage and uploads (docs/media.md, docs/configuration.md).
DEFAULTS.update({
    "S3_ENDPOINT_URL": None,
    "S3_BUCKET": None,
    "S3_REGION": None,
    "S3_ACCESS_KEY_ID": None,
    "S3_SECRET_ACCESS_KEY": None,
    "S3_PRESIGN_SECONDS": 300,
    "S3_MULTIPART_CHUNK_BYTES": 8 * 1024 * 1024,
    # A store that is down or silent must end in a 503 within seconds, not hang a worker.
    "S3_CONNECT_TIMEOUT": 2,   # seconds to open a connection to the store
    "S3_READ_TIMEOUT": 5,      # seconds waiting for the store's answer (a silent store)
    "S3_MAX_ATTEMPTS": 2,      # attempts per request, the first one included
    "UPLOAD_SPOOL": None,  # None: <instance>/uploads
    "UPLOAD_MAX_BYTES": 1024 ** 3,
    "UPLOAD_EXPIRY_HOURS": 72,
    "MEDIA_MAX_BYTES_PHOTO": 50 * 1024 ** 2,
    "MEDIA_MAX_BYTES_AUDIO": 200 * 1024 ** 2,
    "MEDIA_MAX_BYTES_VIDEO": 1024 ** 3,
    "MEDIA_MAX_PIXELS": 40_000_000,
    "MEDIA_PROCESS_TIMEOUT": 60,
})


# Background jobs and alerts (docs/jobs.md, docs/alerts.md). An empty REDIS_URL runs jobs inline
# after commit (the demo needs no Redis).
DEFAULTS.update({
    "REDIS_URL": "",
    "JOB_QUEUE": "adal",
    "JOB_RETRY_DELAYS": [10, 60, 300],      # seconds before each retry of a failed job
    "JOB_TIMEOUT": 600,
    "SMTP_URL": "",                         # smtp://user:pass@host:port; STARTTLS when offered
    "SMTP_CA_FILE": "",                     # PEM of a private CA the SMTP server's cert is from
    "SMTP_FROM": "adal@localhost",
    "SMTP_TIMEOUT": 10,
    "PUBLIC_URL": "",                       # https://adal.example.org: links in alerts
    "ALERTS_ALLOW_PRIVATE_TARGETS": False,  # webhooks to loopback/private addresses (SSRF guard)
    "ALERT_RETRY_HOURS": 24,                # then a delivery is failed (and visible)
    "WEBHOOK_TIMEOUT": 5,
    "MEDIA_WEB_PREVIEW_BYTES": 20 * 1024 ** 2,  # larger videos (or not H.264) get an MP4 preview
})

# Settings that are text whatever they look like. Flask's from_prefixed_env() reads each value
# as JSON first, so ADAL_SECRET_KEY=12345678901234567890 would arrive as an int (and break
# signing) and ADAL_S3_BUCKET=2026 as a number; these are taken from the environment verbatim.
TEXT_SETTINGS = frozenset({key for key, value in DEFAULTS.items() if isinstance(value, str)} | {
    "SECRET_KEY", "DATABASE_URL", "S3_ENDPOINT_URL", "S3_BUCKET", "S3_REGION",
    "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "UPLOAD_SPOOL"})

SECRET_FILE = "secret_key"
SECRET_READ_ATTEMPTS = 50  # x 0.1 s: how long a starting process waits for another's key


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the app refuses to start."""


def from_environment(config) -> None:
    """ADAL_* variables onto `config`: numbers and booleans parsed as JSON (Flask's rule),
    text settings (TEXT_SETTINGS) kept as the exact string given."""
    config.from_prefixed_env("ADAL")
    for key in TEXT_SETTINGS:
        raw = os.environ.get(f"ADAL_{key}")
        if raw is not None:
            config[key] = raw


def finalise(config, instance_path: str) -> None:
    """Fill derived settings and map ours onto the names Flask and extensions read."""
    instance = Path(instance_path)
    if not config.get("DATABASE_URL"):
        instance.mkdir(parents=True, exist_ok=True)
        config["DATABASE_URL"] = f"sqlite:///{instance / 'adal.sqlite3'}"
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(instance)
    if not config.get("SIGNING_KEY"):
        # Receipts (server/receipts): kept like the secret key, one per installation.
        config["SIGNING_KEY"] = _instance_secret(
            instance, "signing_key", "ADAL_SIGNING_KEY",
            lambda: base64.b64encode(secrets.token_bytes(32)).decode())
    url = config["DATABASE_URL"]
    if url.startswith("postgres://"):  # the old Heroku-style scheme SQLAlchemy no longer accepts
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    config["SQLALCHEMY_DATABASE_URI"] = url
    # A database host that drops packets must not hang requests until the OS gives up: a bounded
    # connect, TCP keepalives and tcp_user_timeout on the socket, and a statement timeout.
    tcp_ms = _whole(config["DB_TCP_TIMEOUT_MS"]) or 10000
    # No pre-ping (a round trip per request): connections are recycled before servers and
    # firewalls drop idle ones, and a connection found dead invalidates the pool, answers 503
    # (errors.py) and, on the intake fast path, is retried once (docs/deployment.md).
    engine_options = {"pool_recycle": 300, "connect_args": {
        "connect_timeout": _whole(config["DB_CONNECT_TIMEOUT"]) or 5,
        "keepalives": 1, "keepalives_idle": max(1, tcp_ms // 2000),
        "keepalives_interval": max(1, tcp_ms // 4000), "keepalives_count": 3,
        "tcp_user_timeout": tcp_ms,
        "options": f"-c statement_timeout={_whole(config['DB_STATEMENT_TIMEOUT_MS']) or 10000}"
                   f" -c idle_in_transaction_session_timeout=60000"}}
    if url.startswith("sqlite"):
        # A writer waits for another writer instead of failing with "database is locked".
        engine_options = {"connect_args": {"timeout": 30}}
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options)
    # Wrong values are left for validate() to name; they must not crash the start here.
    config["MAX_CONTENT_LENGTH"] = _whole(config["MAX_REQUEST_BYTES"])
    # Only a 429 says when to retry (errors.py); X-RateLimit headers on every sign-in answer
    # would tell a client with one typo to wait a minute.
    config["RATELIMIT_HEADERS_ENABLED"] = False
    if config.get("SESSION_COOKIE_SECURE") is True and config.get("SECURE_COOKIES") is None:
        config["SECURE_COOKIES"] = True  # the older setting's name
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["PERMANENT_SESSION_LIFETIME"] = (_whole(config["SESSION_LIFETIME_HOURS"]) or 0) * 3600
    # CSRF is checked for cookie-authenticated requests only (server.auth.access, server.web.views).
    config["WTF_CSRF_CHECK_DEFAULT"] = False
    config["WTF_CSRF_TIME_LIMIT"] = None  # the token lives as long as the session


def _whole(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def validate(config) -> None:
    """Fail fast on settings that cannot work, naming the variable."""
    problems = []
    if config["MEDIA_BACKEND"] not in MEDIA_BACKENDS:
        problems.append(f"ADAL_MEDIA_BACKEND must be one of {', '.join(MEDIA_BACKENDS)}")
    if config["DEFAULT_LANGUAGE"] not in LANGUAGES:
        problems.append(f"ADAL_DEFAULT_LANGUAGE must be one of {', '.join(LANGUAGES)}")
    if not isinstance(getattr(argon2.profiles, str(config["PASSWORD_HASH_PROFILE"]), None),
                      argon2.Parameters):
        problems.append("ADAL_PASSWORD_HASH_PROFILE must name a profile in argon2.profiles")
    for key in ("MAX_REQUEST_BYTES", "TOKEN_TTL_DAYS", "SESSION_LIFETIME_HOURS", "PAGE_SIZE_MAX"):
        if not isinstance(config[key], int) or isinstance(config[key], bool) or config[key] <= 0:
            problems.append(f"ADAL_{key} must be a positive integer")
    problems += _media_problems(config)
    if not isinstance(config["SECRET_KEY"], str) or len(config["SECRET_KEY"]) < 16:
        problems.append("ADAL_SECRET_KEY must be text of at least 16 characters")
    try:
        ZoneInfo(str(config["TIMEZONE"]))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append("ADAL_TIMEZONE must be an IANA time zone such as Asia/Almaty")
    for key in ("MAX_DISTANCE_M", "CLOCK_SKEW_MINUTES"):
        if not isinstance(config[key], (int, float)) or isinstance(config[key], bool) \
                or config[key] < 0:
            problems.append(f"ADAL_{key} must be a number ≥ 0")
    problems += _report_problems(config)
    problems += _map_problems(config)
    if problems:
        raise ConfigError("; ".join(problems))


def _report_problems(config) -> list[str]:
    """What is wrong with the colour bands and the ranking minimum."""
    green, yellow = config["BAND_GREEN_MIN"], config["BAND_YELLOW_MIN"]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (green, yellow)) \
            or not 0 <= yellow <= green <= 100:
        return ["ADAL_BAND_YELLOW_MIN and ADAL_BAND_GREEN_MIN must be numbers with "
                "0 ≤ yellow ≤ green ≤ 100"]
    minimum = config["RANKING_MIN_VISITS"]
    if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 1:
        return ["ADAL_RANKING_MIN_VISITS must be a positive integer"]
    return []


# A tile URL's host: letters, digits, dots, dashes, an optional port; "{s}." in front stands for
# the tile servers' subdomains (a CSP wildcard). Nothing that could end a CSP directive.
_TILE_HOST = re.compile(r"(\{s\}\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?")
# The attribution is shown as HTML: text and links to http(s) pages, nothing else.
_ATTRIBUTION_TAG = re.compile(r'<a href="https?://[^"<>\s]+">|</a>')


def tile_origin(url: str | None) -> str | None:
    """The origin of a tile URL as a CSP source ("https://tile.openstreetmap.org",
    "https://*.tile.example.org" for "{s}."); None when tiles are off or the URL is not one."""
    if not isinstance(url, str) or not url:
        return None
    scheme, sep, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    if scheme not in ("https", "http") or not sep or "/" not in rest \
            or not _TILE_HOST.fullmatch(host):
        return None
    if not all(part in rest for part in ("{z}", "{x}", "{y}")):
        return None
    return f"{scheme}://{host.replace('{s}.', '*.', 1)}"


def _map_problems(config) -> list[str]:
    """What is wrong with the map's tile settings."""
    problems = []
    url, attribution = config["MAP_TILE_URL"], config["MAP_TILE_ATTRIBUTION"]
    # An empty URL turns tiles off: the map draws the shipped region outlines only.
    if url and (tile_origin(url) is None or any(c in str(url) for c in " \"'<>;,")):
        problems.append("ADAL_MAP_TILE_URL must be empty (no tiles) or an http(s) URL with "
                        "{z}, {x} and {y}, such as https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    text = _ATTRIBUTION_TAG.sub("", attribution) if isinstance(attribution, str) else "<"
    if "<" in text or ">" in text:
        problems.append("ADAL_MAP_TILE_ATTRIBUTION must be text with at most links "
                        '(<a href="https://...">...</a>)')
    return problems


def _media_problems(config) -> list[str]:
    """What is wrong with the evidence storage and upload settings."""
    problems = []
    for key in ("S3_PRESIGN_SECONDS", "UPLOAD_MAX_BYTES", "UPLOAD_EXPIRY_HOURS",
                "MEDIA_MAX_BYTES_PHOTO", "MEDIA_MAX_BYTES_AUDIO", "MEDIA_MAX_BYTES_VIDEO",
                "MEDIA_MAX_PIXELS", "MEDIA_PROCESS_TIMEOUT"):
        if not isinstance(config[key], int) or isinstance(config[key], bool) or config[key] <= 0:
            problems.append(f"ADAL_{key} must be a positive integer")
    for key in ("S3_CONNECT_TIMEOUT", "S3_READ_TIMEOUT"):
        value = config[key]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 600:
            problems.append(f"ADAL_{key} must be a number of seconds above 0, at most 600")
    attempts = config["S3_MAX_ATTEMPTS"]
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 10:
        problems.append("ADAL_S3_MAX_ATTEMPTS must be an integer from 1 to 10")
    chunk = config["S3_MULTIPART_CHUNK_BYTES"]
    if (not isinstance(chunk, int) or isinstance(chunk, bool)
            or not 5 * 1024 ** 2 <= chunk <= 5 * 1024 ** 3):
        problems.append("ADAL_S3_MULTIPART_CHUNK_BYTES must be between 5 MiB and 5 GiB "
                        "(the part sizes S3 accepts)")
    if config["MEDIA_BACKEND"] == "s3" and not config["S3_BUCKET"]:
        problems.append("ADAL_S3_BUCKET must be set when ADAL_MEDIA_BACKEND is s3")
    return problems


def _instance_secret(instance: Path, name: str = SECRET_FILE, setting: str = "ADAL_SECRET_KEY",
                     make=lambda: secrets.token_urlsafe(48)) -> str:
    """A random key kept in the instance folder (mode 0600), so sessions survive restarts.

    Several processes may start at once (gunicorn workers): each writes a complete key to a
    temp file and hard-links it into place, which fails if a key is there already, so the file
    appears whole or not at all and the first one wins. A reader that still finds it empty (a
    key written by an older version, non-atomically) waits for the content.
    """
    path = instance / name
    key = _read_secret(path)
    if key is not None:
        return key
    instance.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=instance, prefix=f".{name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(make())
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:  # another process started at the same moment and won
            pass
    finally:
        os.unlink(temp)
    key = _read_secret(path)
    if key is None:
        raise ConfigError(f"{path} is empty; delete it or set {setting}")
    return key


def _read_secret(path: Path) -> str | None:
    """The key in `path`; None if there is no file; waits a while for an empty one to fill."""
    for attempt in range(SECRET_READ_ATTEMPTS):
        try:
            key = path.read_text().strip()
        except FileNotFoundError:
            return None
        if key:
            return key
        time.sleep(0.1)
    return None


API_SPEC_OPTIONS = {
    "info": {"description": "Adal records mystery-shopper visits to public service centres. "
                            "Errors are RFC 9457 problem details with a stable `code`."},
    "components": {"securitySchemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer"},
        "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session"},
    }},
    "security": [{"bearerAuth": []}, {"sessionCookie": []}],
}
