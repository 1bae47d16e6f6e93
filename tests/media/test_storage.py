"""One storage contract, run against the local disk and against S3 (moto over real HTTP)."""
from __future__ import annotations

import io
import os
import urllib.request

import pytest

from server.media.storage import (LocalStorage, S3Storage, StorageError, StorageUnavailable,
                                  build_storages)

from .conftest import S3_KEYS


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path, moto):
    if request.param == "local":
        return LocalStorage(tmp_path / "media")
    return S3Storage(bucket=moto.new_bucket(), endpoint_url=moto.url, region="us-east-1",
                     access_key_id="testing", secret_access_key="testing",
                     multipart_chunk_bytes=5 * 1024 * 1024)


def test_saved_bytes_read_back_identical(storage):
    data = os.urandom(1000)
    assert storage.save("originals/ab/cd/x", io.BytesIO(data)) == 1000
    with storage.open("originals/ab/cd/x") as fh:
        assert fh.read() == data


def test_a_large_object_goes_in_parts_and_reads_back_identical(storage):
    data = os.urandom(11 * 1024 * 1024)  # over the 5 MiB part size: three parts on S3
    assert storage.save("big", io.BytesIO(data)) == len(data)
    with storage.open("big") as fh:
        assert fh.read() == data
    assert storage.size("big") == len(data)
    if isinstance(storage, S3Storage):  # S3 names a multipart object's ETag "<md5s>-<parts>"
        head = storage.client.head_object(Bucket=storage.bucket, Key="big")
        assert head["ETag"].strip('"').endswith("-3"), head["ETag"]


def test_save_file_stores_a_file_that_outlives_its_source(storage, tmp_path):
    source = tmp_path / "upload.part"
    source.write_bytes(data := os.urandom(5000))
    assert storage.save_file("originals/x", source) == 5000
    source.unlink()
    with storage.open("originals/x") as fh:
        assert fh.read() == data


def test_exists_tells_stored_from_missing(storage):
    storage.save("a/b", io.BytesIO(b"x"))
    assert storage.exists("a/b")
    assert not storage.exists("a/c")


def test_size_of_a_stored_object(storage):
    storage.save("k", io.BytesIO(b"12345"))
    assert storage.size("k") == 5


def test_size_of_a_missing_object_is_a_storage_error(storage):
    with pytest.raises(StorageError):
        storage.size("missing")


def test_opening_a_missing_object_is_a_storage_error(storage):
    with pytest.raises(StorageError):
        storage.open("missing")


def test_delete_removes_and_tolerates_missing(storage):
    storage.save("k", io.BytesIO(b"x"))
    storage.delete("k")
    storage.delete("k")
    assert not storage.exists("k")


def test_keys_lists_by_prefix(storage):
    for key in ("originals/aa/bb/1", "originals/aa/cc/2", "derivatives/1/thumbnail.jpg"):
        storage.save(key, io.BytesIO(b"x"))
    assert sorted(storage.keys("originals/")) == ["originals/aa/bb/1", "originals/aa/cc/2"]


def test_check_passes_on_a_working_store(storage):
    storage.check()


def test_a_failed_save_leaves_nothing_under_the_key(storage):
    class Broken(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, b):
            raise OSError("disk read failed")

    with pytest.raises((StorageError, OSError)):
        storage.save("k", Broken())
    assert not storage.exists("k")


def test_local_keys_cannot_leave_the_root(tmp_path):
    store = LocalStorage(tmp_path / "media")
    with pytest.raises(StorageError):
        store.save("../../etc/passwd", io.BytesIO(b"x"))
    assert not (tmp_path / "etc").exists()


def test_local_has_no_download_url(tmp_path):
    store = LocalStorage(tmp_path / "media")
    assert store.url_for_download("k", content_type="image/jpeg", disposition="inline") is None


def test_s3_download_url_is_presigned_short_lived_and_sets_disposition(moto):
    store = S3Storage(bucket=moto.new_bucket(), endpoint_url=moto.url, region="us-east-1",
                      access_key_id="testing", secret_access_key="testing", presign_seconds=60)
    store.save("originals/x", io.BytesIO(b"evidence"))
    url = store.url_for_download("originals/x", content_type="image/jpeg",
                                 disposition='attachment; filename="x.jpg"')
    assert "X-Amz-Expires=60" in url and "X-Amz-Signature=" in url
    with urllib.request.urlopen(url) as resp:  # a real GET, as a browser would follow it
        assert resp.read() == b"evidence"
        assert resp.headers["Content-Disposition"] == 'attachment; filename="x.jpg"'
        assert resp.headers["Content-Type"] == "image/jpeg"


def test_s3_unreachable_is_storage_unavailable(own_moto):
    store = S3Storage(bucket=own_moto.new_bucket(), endpoint_url=own_moto.url,
                      region="us-east-1", access_key_id="testing", secret_access_key="testing")
    own_moto.stop()
    with pytest.raises(StorageUnavailable):
        store.save("k", io.BytesIO(b"x"))
    with pytest.raises(StorageUnavailable):
        store.exists("k")
    with pytest.raises(StorageUnavailable):
        store.check()


def test_s3_missing_bucket_fails_the_check(moto):
    store = S3Storage(bucket="adal-no-such-bucket", endpoint_url=moto.url, region="us-east-1",
                      access_key_id="testing", secret_access_key="testing")
    with pytest.raises(StorageError):
        store.check()


def test_build_storages_adds_s3_when_a_bucket_is_configured(tmp_path, moto):
    stores = build_storages({"MEDIA_ROOT": str(tmp_path), "S3_BUCKET": "b",
                             "S3_ENDPOINT_URL": moto.url, **S3_KEYS})
    assert set(stores) == {"local", "s3"}
    assert build_storages({"MEDIA_ROOT": str(tmp_path)}).keys() == {"local"}
