"""Where media bytes live. One interface, a backend per row (storage_backend, storage_key).

The local backend writes atomically: a temporary file in the same directory, fsync, rename, and an
fsync of the directory, so a crash leaves either the whole object or nothing under its key. The S3
backend sends large objects as a multipart upload of bounded parts (S3 makes the object visible
only once every part is in) and serves them by short-lived presigned URLs.

`delete` exists for one caller only: the rollback of a unit of work that stored an object which no
row will point to. Nothing in the API deletes media.
"""
from __future__ import annotations

import errno
import io
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from .. import failpoints


class StorageError(RuntimeError):
    """The store failed; the message says which operation and key."""


class StorageUnavailable(StorageError):
    """The store cannot be reached at all (connection refused, timeout, 5xx): retry later."""


class StorageFull(StorageError):
    """The store has no room left (ENOSPC, EDQUOT on the local disk)."""


_FULL = (errno.ENOSPC, errno.EDQUOT)


def _os_error(what: str, key: str, exc: OSError) -> StorageError:
    kind = StorageFull if exc.errno in _FULL else StorageError
    return kind(f"cannot {what} {key!r}: {exc.strerror or exc}")


class Storage(Protocol):
    name: str

    def save(self, key: str, source: BinaryIO) -> int: ...
    def save_file(self, key: str, path: Path) -> int: ...
    def open(self, key: str) -> BinaryIO: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def delete(self, key: str) -> None: ...
    def keys(self, prefix: str = "") -> Iterator[str]: ...
    def url_for_download(self, key: str, *, content_type: str,
                         disposition: str) -> str | None: ...
    def check(self) -> None: ...


_PROBE = b"adal health probe"


class LocalStorage:
    """Objects as files under one root directory; keys are relative POSIX paths."""

    name = "local"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not key or path == self.root or self.root not in path.parents:
            raise StorageError(f"key {key!r} leaves the storage root")
        return path

    def path_for(self, key: str) -> Path:
        """The file holding `key`, for serving it with range requests."""
        return self._path(key)

    def save(self, key: str, source: BinaryIO, *, chunk: int = 1024 * 1024) -> int:
        """Copy `source` under `key` atomically; returns the number of bytes written."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            size = 0
            try:
                with os.fdopen(fd, "wb") as out:
                    while block := source.read(chunk):
                        out.write(block)
                        size += len(block)
                    out.flush()
                    os.fsync(out.fileno())
                failpoints.hit("local.save_written")
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise _os_error("save", key, exc) from exc
        return size

    def save_file(self, key: str, path: Path) -> int:
        """Store the file at `path` under `key`; returns its size.

        On the same file system the file is hard-linked, not copied (a gigabyte video is not
        written twice); the caller must never write to `path` again, only unlink it. The file
        must already be fsynced; the new directory entry is, here.
        """
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.parent / f".tmp-link-{os.getpid()}-{path.name}"
            tmp.unlink(missing_ok=True)
            os.link(path, tmp)
            failpoints.hit("local.save_written")
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise _os_error("save", key, exc) from exc
            with path.open("rb") as fh:  # another file system: copy
                return self.save(key, fh)
        try:
            os.replace(tmp, target)
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            return target.stat().st_size
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _os_error("save", key, exc) from exc

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except OSError as exc:
            raise StorageError(f"cannot open {key!r}: {exc.strerror or exc}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except OSError as exc:
            raise StorageError(f"cannot stat {key!r}: {exc.strerror or exc}") from exc

    def delete(self, key: str) -> None:
        """Remove `key` if present (only to undo a rolled-back store)."""
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot delete {key!r}: {exc.strerror or exc}") from exc

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every stored key starting with `prefix`, temporary files left out."""
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                key = (Path(dirpath) / name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key

    def url_for_download(self, key: str, *, content_type: str, disposition: str) -> None:
        """Local files are streamed by the app itself: no direct URL."""
        return None

    def check(self) -> None:
        """Prove the store can take a write: save and read back a small probe object."""
        self.save(".health/probe", io.BytesIO(_PROBE))
        with self.open(".health/probe") as fh:
            if fh.read() != _PROBE:
                raise StorageError("probe object read back differently")


_BOTO_SESSION = None
_BOTO_LOCK = threading.Lock()


def _s3_client(**options):
    """An S3 client from the process's one boto3 session.

    A new session reads botocore's endpoint and service-model JSON from disk again (~0.1 s of
    CPU each time); one session loads them once. Sessions are not thread-safe, so clients are
    made under a lock; the clients themselves are."""
    global _BOTO_SESSION
    import boto3
    with _BOTO_LOCK:
        if _BOTO_SESSION is None:
            _BOTO_SESSION = boto3.session.Session()
        return _BOTO_SESSION.client("s3", **options)


class S3Storage:
    """Objects in one bucket of an S3-compatible store, through boto3."""

    name = "s3"

    def __init__(self, *, bucket: str, endpoint_url: str | None = None,
                 region: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None, presign_seconds: int = 300,
                 multipart_chunk_bytes: int = 8 * 1024 * 1024, connect_timeout: float = 2.0,
                 read_timeout: float = 5.0, max_attempts: int = 2):
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = bucket
        self.presign_seconds = presign_seconds
        config = Config(
            connect_timeout=connect_timeout, read_timeout=read_timeout,
            # A store that is down must show as a 503 within seconds, not after minutes of
            # retries; the client retries the whole request later anyway. total_max_attempts
            # counts the first attempt (botocore's max_attempts would not).
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
            # Most self-hosted stores (MinIO, Ceph, moto) want bucket names in the path.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            signature_version="s3v4",
        )
        self.client = _s3_client(
            endpoint_url=endpoint_url or None, region_name=region or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None, config=config)
        # Parts of a bounded size, two at a time: memory stays flat whatever the object's size.
        self.transfer = TransferConfig(multipart_threshold=multipart_chunk_bytes,
                                       multipart_chunksize=multipart_chunk_bytes,
                                       max_concurrency=2, use_threads=True)

    def _wrap(self, exc: Exception, what: str, key: str) -> StorageError:
        from botocore.exceptions import (BotoCoreError, ClientError, ConnectionError,
                                         HTTPClientError)
        if isinstance(exc, ClientError):
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            code = exc.response.get("Error", {}).get("Code", "error")
            if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "InternalError"):
                return StorageUnavailable(f"cannot {what} {key!r}: the store answered {code}")
            return StorageError(f"cannot {what} {key!r}: {code}")
        if isinstance(exc, (ConnectionError, HTTPClientError)):
            return StorageUnavailable(f"cannot {what} {key!r}: the store cannot be reached")
        if isinstance(exc, BotoCoreError):
            return StorageError(f"cannot {what} {key!r}: {exc}")
        return StorageError(f"cannot {what} {key!r}: {exc}")

    def _call(self, what: str, key: str, fn, *args, **kwargs):
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            return fn(*args, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise self._wrap(exc, what, key) from exc
        except S3UploadFailedError as exc:  # the transfer manager's wrapper of the above
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, (BotoCoreError, ClientError)):
                raise self._wrap(cause, what, key) from exc
            raise StorageUnavailable(f"cannot {what} {key!r}: {exc}") from exc

    def save(self, key: str, source: BinaryIO) -> int:
        """Upload `source` under `key` (multipart when large); returns its size."""
        counter = _CountingReader(source)
        self._call("save", key, self.client.upload_fileobj, counter, self.bucket, key,
                   Config=self.transfer)
        return counter.count

    def save_file(self, key: str, path: Path) -> int:
        """Upload the file at `path` under `key`; returns its size."""
        with path.open("rb") as fh:
            return self.save(key, fh)

    def open(self, key: str) -> BinaryIO:
        body = self._call("open", key, self.client.get_object, Bucket=self.bucket, Key=key)["Body"]
        return _Body(body)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._wrap(exc, "look up", key) from exc
        except Exception as exc:
            raise self._wrap(exc, "look up", key) from exc
        return True

    def size(self, key: str) -> int:
        head = self._call("stat", key, self.client.head_object, Bucket=self.bucket, Key=key)
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        """Remove `key` if present (only to undo a rolled-back store)."""
        self._call("delete", key, self.client.delete_object, Bucket=self.bucket, Key=key)

    def keys(self, prefix: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call("list", prefix, lambda: list(
            paginator.paginate(Bucket=self.bucket, Prefix=prefix)))
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"]

    def url_for_download(self, key: str, *, content_type: str, disposition: str) -> str:
        """A presigned GET that expires soon, with the headers the store must answer with."""
        return self._call("sign", key, self.client.generate_presigned_url, "get_object",
                          Params={"Bucket": self.bucket, "Key": key,
                                  "ResponseContentType": content_type,
                                  "ResponseContentDisposition": disposition},
                          ExpiresIn=self.presign_seconds)

    def check(self) -> None:
        """The bucket exists and these credentials reach it."""
        self._call("reach bucket", self.bucket, self.client.head_bucket, Bucket=self.bucket)


class _CountingReader(io.RawIOBase):
    """A read-only view of a file that counts the bytes handed out."""

    def __init__(self, source: BinaryIO):
        self.source = source
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.count += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


class _Body(io.RawIOBase):
    """boto3's streaming body as a file, with transport errors turned into StorageError."""

    def __init__(self, body):
        self.body = body

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        from botocore.exceptions import BotoCoreError
        try:
            return self.body.read(None if size is None or size < 0 else size)
        except (BotoCoreError, OSError) as exc:
            raise StorageUnavailable(f"reading an object failed: {exc}") from exc

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self.body.close()
        finally:
            super().close()


def build_storages(config) -> dict[str, Storage]:
    """Every configured backend by name; rows name theirs, so old objects stay reachable."""
    storages: dict[str, Storage] = {"local": LocalStorage(config["MEDIA_ROOT"])}
    if config.get("S3_BUCKET"):
        storages["s3"] = S3Storage(
            bucket=config["S3_BUCKET"], endpoint_url=config.get("S3_ENDPOINT_URL"),
            region=config.get("S3_REGION"), access_key_id=config.get("S3_ACCESS_KEY_ID"),
            secret_access_key=config.get("S3_SECRET_ACCESS_KEY"),
            presign_seconds=int(config.get("S3_PRESIGN_SECONDS") or 300),
            multipart_chunk_bytes=int(config.get("S3_MULTIPART_CHUNK_BYTES") or 8 * 1024 * 1024),
            connect_timeout=float(config.get("S3_CONNECT_TIMEOUT") or 2),
            read_timeout=float(config.get("S3_READ_TIMEOUT") or 5),
            max_attempts=int(config.get("S3_MAX_ATTEMPTS") or 2))
    return storages
