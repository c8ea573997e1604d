"""Email: render, queue, send once; sequences and broadcasts feed the same outbox.

Every email is an ``EmailMessage`` row before anything is sent. Rendering happens when the
row is written; a template that fails (an undefined variable such as an empty
``subscriber.accessally_password``, a Liquid error) makes a *held* row with the reason instead
of a blank email. The sender (``sending.py``) claims one queued row at a time under a lease.
Held emails are rendered again by a sweep (``held.py``) until their cause is gone.
"""

import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.core import oncommit
from apps.core.doorbell import doorbell_ring

from ..email_html import BODY_TEXT
from ..liquid import TemplateError, liquid_contexts
from ..models import EmailMessage, EmailStatus, Subscriber, email_kind_traits
from .rendering import Draft, default_layout_html, draft_render, held_reason

# A held email is rendered again after HOLD_RECHECK_BASE, then twice as long each time up to
# ``held.HOLD_RECHECK_MAX``: its cause (no login yet, an empty field) is usually gone in
# seconds, and an event (the login created, a field set) brings the check forward at once.
HOLD_RECHECK_BASE = timedelta(minutes=1)
# Rows per insert (and the chunk a broadcast reads its audience in).
BROADCAST_CHUNK = 1000


def sender_kick() -> None:
    from ..tasks import emails_send

    doorbell_ring(emails_send)


def emails_enqueue(drafts: list[Draft]) -> int:
    """Render and write drafts as outbox rows (one query for the contexts, one insert); a row
    whose key exists already is left alone. Returns how many rows it wrote."""
    if not drafts:
        return 0
    contexts = liquid_contexts({d.subscriber.pk: d.subscriber for d in drafts}.values())
    default_layout = default_layout_html()
    now, rows = timezone.now(), []
    for draft in drafts:
        context = contexts[draft.subscriber.pk]
        status, error, html = EmailStatus.QUEUED, "", ""
        try:
            rendered = draft_render(draft, context, default_layout)
            subject, body, html = rendered.subject, rendered.text, rendered.html
        except TemplateError as exc:
            status, subject, body = EmailStatus.HELD, draft.subject, draft.body
            error = held_reason(exc)
        rows.append(
            EmailMessage(
                subscriber=draft.subscriber,
                key=draft.key[:200],
                kind=draft.kind,
                is_marketing=draft.is_marketing,
                to_email=draft.subscriber.email,
                subject=subject[:255],
                body_text=body,
                body_html=html,
                from_email=draft.from_email,
                track_clicks=draft.track_clicks and draft.body_format != BODY_TEXT,
                track_opens=draft.track_opens and draft.body_format != BODY_TEXT,
                status=status,
                error=error,
                next_attempt_at=now if status == EmailStatus.QUEUED else now + HOLD_RECHECK_BASE,
                sequence_email=draft.sequence_email,
                broadcast=draft.broadcast,
            )
        )
    created = EmailMessage.objects.bulk_create(
        rows, ignore_conflicts=True, batch_size=BROADCAST_CHUNK
    )
    oncommit.on_commit_once(sender_kick)
    return len(created)


@transaction.atomic
def email_transactional_queue(
    *, subscriber: Subscriber, kind: str, subject: str, body: str, to_email: str = ""
) -> EmailMessage:
    """Queue an email the person asked for (a login link, a password reset, an address
    change) in the outbox, so the worker sends it with the same retries as any other and the
    creator can see it went out. Already final text: it is not a Liquid template (a first
    name typed as ``{{ ... }}`` must stay text). ``to_email``: another address than the
    subscriber's (the new address of an email change)."""
    if not email_kind_traits(kind).transactional:
        raise ValueError(f"{kind!r} is not a transactional email kind")
    message = EmailMessage.objects.create(
        subscriber=subscriber,
        key=f"{kind}:{subscriber.pk}:{uuid.uuid4().hex}",
        kind=kind,
        is_marketing=False,
        to_email=to_email or subscriber.email,
        subject=subject[:255],
        body_text=body,
        next_attempt_at=timezone.now(),
    )
    oncommit.on_commit_once(sender_kick)
    return message
