"""Errors of the outbox and webhooks."""

from __future__ import annotations

from service.errors import Conflict, NotFound, Unprocessable


class SubscriptionNotFound(NotFound):
    code = "webhook_subscription_not_found"
    title = "Webhook subscription not found"


class DeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"
    title = "Webhook delivery not found"


class DeliveryStillPending(Conflict):
    code = "webhook_delivery_pending"
    title = "The delivery is still pending; only dead or delivered ones can be redelivered"


class InvalidSubscription(Unprocessable):
    code = "webhook_subscription_invalid"
    title = "The webhook subscription is invalid"


class InvalidWebhookUrl(Unprocessable):
    code = "webhook_url_invalid"
    title = "The webhook URL is not a strict absolute http(s) URL"


class WebhookDestinationRefused(Unprocessable):
    code = "webhook_destination_refused"
    title = "The webhook URL points at an address the hub does not send to"
