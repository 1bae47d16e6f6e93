"""Shapes of media and uploads on the wire. No database, no permissions."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


class DerivativeOut(ma.Schema):
    name = fields.String(metadata={"description": "thumbnail, preview or poster"})
    content_type = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    size = fields.Integer()


class GpsOut(ma.Schema):
    lat = fields.Float()
    lon = fields.Float()


class MediaOut(ma.Schema):
    sha256 = fields.String()
    kind = fields.String(metadata={"description": "photo, video or audio"})
    content_type = fields.String(metadata={"description": "detected from the bytes"})
    size = fields.Integer()
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    duration = fields.Float(allow_none=True, metadata={"description": "seconds"})
    captured_at = fields.AwareDateTime(allow_none=True)
    gps = fields.Method("_gps", allow_none=True,
                        metadata={"description": "{lat, lon} read from the file when valid"})
    status = fields.String(metadata={"description": "processing until a job has made the "
                                                    "derivatives; then ready, or failed when "
                                                    "a derivative could not be made"})
    derivatives = fields.List(fields.Nested(DerivativeOut))

    def _gps(self, media) -> dict | None:
        if media.gps_status != "valid" or media.gps_lat is None:
            return None
        return {"lat": media.gps_lat, "lon": media.gps_lon}


class UploadOut(ma.Schema):
    id = fields.String()
    state = fields.String(metadata={"description": "receiving, completed, terminated, expired "
                                                   "or refused"})
    offset = fields.Integer()
    length = fields.Integer()
    filename = fields.String()
    filetype = fields.String()
    refusal = fields.String(allow_none=True, metadata={"description": "the problem code"})
    created_at = fields.AwareDateTime()
    expires_at = fields.AwareDateTime()
    completed_at = fields.AwareDateTime(allow_none=True)
    media = fields.Function(lambda u: u.media.sha256 if u.media is not None else None,
                            metadata={"description": "sha256 of the stored media"})
