"""Drafts and their rendering: an email to one subscriber as it will read (Liquid, Markdown
or HTML inside its layout), and the admin's preview of it."""

from dataclasses import dataclass

from ..email_html import BODY_TEXT, email_render
from ..liquid import TemplateError, liquid_contexts, liquid_secret_links_redact
from ..models import Broadcast, EmailKind, EmailLayout, SequenceEmail, Subscriber, email_kind_traits


@dataclass
class Draft:
    """An email to render and queue."""

    subscriber: Subscriber
    key: str
    kind: str
    subject: str
    body: str
    is_marketing: bool = True
    sequence_email: SequenceEmail | None = None
    broadcast: Broadcast | None = None
    # "text" (a plain email: the site's own confirmations), "markdown" or "html" (inside
    # ``layout``, else the default layout).
    body_format: str = BODY_TEXT
    layout: EmailLayout | None = None
    from_email: str = ""
    track_clicks: bool = False
    track_opens: bool = False

    @property
    def is_bulk(self) -> bool:
        return email_kind_traits(self.kind).bulk


def default_layout_html() -> str | None:
    return EmailLayout.objects.filter(is_default=True).values_list("html", flat=True).first()


def draft_render(draft: Draft, context: dict, default_layout: str | None):
    return email_render(
        subject=draft.subject,
        body=draft.body,
        body_format=draft.body_format,
        layout_html=draft.layout.html if draft.layout is not None else default_layout,
        context=context,
        marketing=draft.is_bulk,
    )


def email_preview(
    *,
    subject: str,
    body: str,
    subscriber: Subscriber,
    show_sensitive: bool = False,
    body_format: str = BODY_TEXT,
    layout: EmailLayout | None = None,
    kind: str = EmailKind.SEQUENCE,
) -> dict:
    """Render for one subscriber without sending: the admin's preview (both parts). Sensitive
    fields and set-password links read "[redacted]" unless ``show_sensitive`` (a viewer
    allowed to see subscribers' secrets)."""
    context = liquid_contexts([subscriber], redact_sensitive=not show_sensitive)[subscriber.pk]
    if not show_sensitive:
        context = liquid_secret_links_redact(context)
    draft = Draft(
        subscriber=subscriber,
        key="",
        kind=kind,
        subject=subject,
        body=body,
        body_format=body_format,
        layout=layout,
    )
    try:
        rendered = draft_render(draft, context, default_layout_html())
    except TemplateError as exc:
        return {"subject": subject, "body": body, "error": str(exc), "line": exc.line}
    return {
        "subject": rendered.subject,
        "body": rendered.text,
        "html": rendered.html,
        "error": None,
    }


def held_reason(exc: TemplateError) -> str:
    return (
        f"Held, not sent: {exc}. It is sent by itself once it renders (the login exists, the "
        "field is set); or fix the template, or release or cancel it by hand."
    )
