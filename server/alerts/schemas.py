"""Shapes of subscriptions and deliveries on the wire; what is known and safe is the service's."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from ..config import LANGUAGES
from ..rest import PageArgs, unique_items
from ..validators import plain_text
from .models import Channel, DeliveryState

CHANNELS = [c.value for c in Channel]


class SubscriptionIn(ma.Schema):
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    target = fields.String(required=True, validate=[validate.Length(min=3, max=500), plain_text],
                           metadata={"description": "An email address, or the webhook's URL."})
    regions = fields.List(fields.String(validate=validate.Length(min=1, max=32)),
                          required=True, validate=[validate.Length(max=100), unique_items],
                          metadata={"description": "Region codes; [] for every region."})
    findings = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                           required=True, validate=[validate.Length(min=1, max=100),
                                                    unique_items],
                           metadata={"description": 'Critical question ids, or "critical" '
                                                    "for every critical finding."})
    language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES))
    secret = fields.String(load_default=None, validate=validate.Length(min=16, max=200),
                           load_only=True,
                           metadata={"description": "Webhooks: the HMAC-SHA256 key, at least "
                                                    "16 characters; never returned."})


class SubscriptionOut(ma.Schema):
    id = fields.Integer()
    channel = fields.String()
    target = fields.String()
    regions = fields.List(fields.String())
    findings = fields.List(fields.String())
    language = fields.String()
    active = fields.Boolean()
    created_at = fields.DateTime()
    disabled_at = fields.DateTime(allow_none=True)


class DeliveryQuery(PageArgs):
    state = fields.String(load_default=None, validate=validate.OneOf(
        [s.value for s in DeliveryState]))


class DeliveryOut(ma.Schema):
    id = fields.Integer()
    alert_id = fields.Function(lambda d: str(d.alert.uuid))
    subscription = fields.Integer(attribute="subscription_id")
    channel = fields.Function(lambda d: d.subscription.channel)
    office = fields.Function(lambda d: d.alert.visit.office.code)
    findings = fields.Function(lambda d: d.alert.findings)
    state = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    last_attempt_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
