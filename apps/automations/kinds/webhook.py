"""Webhook: POST the subscriber (or a Liquid payload) to a URL, through the delivery outbox."""

import json
from urllib.parse import urlsplit

from apps.crm.delivery import webhook_delivery_enqueue
from apps.crm.liquid import (
    TemplateError,
    json_template_render,
    subscriber_liquid_context,
    template_check,
)
from apps.crm.payloads import subscriber_kit_payload

from .base import DryOutcome, Field, NodeKind, Outcome, SettingsError, StepError
from .settings import unknown_check

WEBHOOK_URL_MAX = 2000


class WebhookKind(NodeKind):
    """POSTs a Liquid-rendered body (default: Kit's ``{"subscriber": {...}}``) through the
    delivery outbox: recorded in this step's transaction, sent after commit, retried."""

    def clean(self, settings):
        unknown_check(settings, {"url", "payload"})
        url = settings.get("url")
        if not isinstance(url, str) or len(url) > WEBHOOK_URL_MAX:
            raise SettingsError("url", "expected an http(s) URL")
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError("url", f"expected an http(s) URL, got {url!r}")
        payload = settings.get("payload") or ""
        if not isinstance(payload, str):
            raise SettingsError("payload", "expected a Liquid template (text)")
        try:
            template_check(payload)
        except TemplateError as exc:
            raise SettingsError("payload", str(exc)) from None
        return {"url": url.strip(), "payload": payload}

    def arrive(self, ctx):
        subscriber = ctx.run.subscriber
        template = ctx.node.settings.get("payload")
        if template:
            # What leaves the site: sensitive fields redacted, every value JSON-escaped.
            context = subscriber_liquid_context(subscriber, redact_sensitive=True)
            try:
                body = json_template_render(template, context)
            except TemplateError as exc:
                raise StepError(f"webhook payload: {exc}") from None
        else:
            body = json.dumps({"subscriber": subscriber_kit_payload(subscriber)})
        delivery = webhook_delivery_enqueue(
            key=f"run:{ctx.run.pk}:node:{ctx.node.pk}",
            url=ctx.node.settings["url"],
            body=body,
            headers={"webhook-id": f"run_{ctx.run.pk}_node_{ctx.node.pk}"},
        )
        return Outcome(detail=f"webhook delivery #{delivery.pk} queued")

    def form_fields(self, settings, ctx):
        return [
            Field("url", "URL", "text", settings.get("url", "")),
            Field(
                "payload",
                "Payload (Liquid; empty: Kit's subscriber JSON)",
                "textarea",
                settings.get("payload", ""),
                required=False,
            ),
        ]

    def settings_from_form(self, data):
        return {"url": data.get("url", ""), "payload": data.get("payload", "")}

    def summary(self, settings, ctx):
        return f"POST to {settings['url']}"

    def dry_run(self, settings, state):
        return DryOutcome(f"would POST to {settings['url']}")


KIND = WebhookKind("webhook", "Webhook")
