"""Send email: one email, rendered with Liquid when the run arrives."""

import re

from apps.crm.liquid import TemplateError, template_check
from apps.crm.messaging.outbox import emails_enqueue
from apps.crm.messaging.rendering import Draft
from apps.crm.models import BodyFormat, EmailKind, EmailMessage, EmailStatus

from ..lint import LintMessage
from .base import DryOutcome, Field, NodeKind, Outcome, SettingsError
from .settings import unknown_check

SUBJECT_MAX = 255
PASSWORD_FIELD_DEFAULT = "accessally_password"


class SendEmailKind(NodeKind):
    """One email, rendered with Liquid when the run arrives. ``purchase``: about something
    the subscriber bought (keeps flowing after an unsubscribe if they asked to keep those)."""

    def clean(self, settings):
        unknown_check(
            settings, {"subject", "body", "purchase", "format", "track_clicks", "track_opens"}
        )
        subject, body = settings.get("subject"), settings.get("body")
        if not isinstance(subject, str) or not subject.strip():
            raise SettingsError("subject", "an email needs a subject")
        if len(subject) > SUBJECT_MAX:
            raise SettingsError("subject", f"at most {SUBJECT_MAX} characters")
        if not isinstance(body, str) or not body.strip():
            raise SettingsError("body", "an email needs a body")
        for name, source in (("subject", subject), ("body", body)):
            try:
                template_check(source)
            except TemplateError as exc:
                raise SettingsError(name, str(exc)) from None
        body_format = settings.get("format") or BodyFormat.MARKDOWN
        if body_format not in BodyFormat.values:
            raise SettingsError("format", f"one of {', '.join(BodyFormat.values)}")
        return {
            "subject": subject,
            "body": body,
            "purchase": bool(settings.get("purchase")),
            "format": body_format,
            "track_clicks": bool(settings.get("track_clicks", True)),
            "track_opens": bool(settings.get("track_opens", False)),
        }

    def arrive(self, ctx):
        key = f"run:{ctx.run.pk}:step:{ctx.run.steps_logged + 1}"
        settings = ctx.node.settings
        emails_enqueue(
            [
                Draft(
                    subscriber=ctx.run.subscriber,
                    key=key,
                    kind=EmailKind.AUTOMATION,
                    subject=settings["subject"],
                    body=settings["body"],
                    is_marketing=not settings.get("purchase"),
                    body_format=settings.get("format") or BodyFormat.MARKDOWN,
                    track_clicks=settings.get("track_clicks", True),
                    track_opens=settings.get("track_opens", False),
                )
            ]
        )
        pk, status, error = (
            EmailMessage.objects.filter(key=key).values_list("pk", "status", "error").get()
        )
        if status == EmailStatus.HELD:
            # The run moves on; the email waits in the outbox and the hold sweep sends it
            # once it renders (the login exists), or a creator releases or cancels it.
            return Outcome(held=True, detail=f"held: {error} (email #{pk})")
        return Outcome(detail=f"email #{pk} queued")

    def form_fields(self, settings, ctx):
        return [
            Field("subject", "Subject", "text", settings.get("subject", "")),
            Field("body", "Body (Liquid)", "textarea", settings.get("body", "")),
            Field(
                "purchase",
                "About a purchase (keeps flowing after an unsubscribe)",
                "checkbox",
                settings.get("purchase", False),
                required=False,
            ),
        ]

    def settings_from_form(self, data):
        return {
            "subject": data.get("subject", ""),
            "body": data.get("body", ""),
            "purchase": bool(data.get("purchase")),
        }

    def summary(self, settings, ctx):
        return f"Send email {settings['subject']!r}"

    def dry_run(self, settings, state):
        return DryOutcome(f"would send {settings['subject']!r}")


def _uses_field(text: str, key: str) -> bool:
    return re.search(rf"subscriber\.{re.escape(key)}\b", text) is not None


def _guarded(text: str, key: str) -> bool:
    """``{% if subscriber.key %}``: the template falls back when the field is empty."""
    return re.search(rf"{{%-?\s*if\s+subscriber\.{re.escape(key)}\b", text) is not None


def lint_prints_a_password_nobody_stores(node, ctx):
    offerings = ctx.offerings
    related = [o for o in offerings if o.tag_ids & ctx.flow_tags]
    text = f"{node.settings.get('subject', '')}\n{node.settings.get('body', '')}"
    keys = {PASSWORD_FIELD_DEFAULT} | {o.password_field_key for o in offerings}
    for key in sorted(k for k in keys if _uses_field(text, k) and not _guarded(text, k)):
        owners = [o for o in (related or offerings) if o.password_field_key == key]
        if any(o.store_password for o in owners):
            continue
        which = ", ".join(repr(o.name) for o in owners) or "no offering"
        yield LintMessage(
            f"This email prints subscriber.{key}, but {which} does not store passwords "
            "in that field, so the email would be held. Turn on “store password” on "
            "the offering, or send {{ set_password_url }} instead.",
            node_id=node.pk,
        )


KIND = SendEmailKind("send_email", "Send email", lint_rules=(lint_prints_a_password_nobody_stores,))
