"""Held and failed emails: the creator's release and cancel, and the sweep that renders
held emails again until their cause (no login yet, an empty field) is gone."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.core import oncommit
from apps.core.doorbell import doorbell_ring
from apps.core.outbox import backoff, drain_until_short

from .. import lock_objects
from ..liquid import TemplateError, liquid_contexts
from ..models import EmailMessage, EmailStatus
from .outbox import HOLD_RECHECK_BASE, sender_kick
from .rendering import Draft, default_layout_html, draft_render, held_reason

HOLD_RECHECK_MAX = timedelta(hours=6)
HOLD_RECHECK_BATCH = 200


def _hold_recheck_at(now: datetime, checks: int) -> datetime:
    return now + backoff(attempts=min(checks, 16) + 1, base=HOLD_RECHECK_BASE, cap=HOLD_RECHECK_MAX)


def _render_again(messages: list[EmailMessage], *, now: datetime) -> int:
    """Queue held and failed emails again. A failed email was rendered and is sent as stored,
    never rendered a second time (the rendered text holds subscriber data: a name that reads
    like Liquid must not run). A held email never rendered: its template (the sequence
    email's or broadcast's current one, else the one held with it) is rendered now and queued
    if that works; if not, the reason and the next check are noted. Returns how many were
    queued."""
    contexts = liquid_contexts({m.subscriber_id: m.subscriber for m in messages}.values())
    default_layout = default_layout_html()
    requeued = 0
    for message in messages:
        if message.status == EmailStatus.FAILED:
            message.status, message.error, message.attempts = EmailStatus.QUEUED, "", 0
            message.next_attempt_at = now
            message.save(update_fields=["status", "error", "attempts", "next_attempt_at"])
            requeued += 1
            continue
        try:
            rendered = draft_render(
                _held_draft(message), contexts[message.subscriber_id], default_layout
            )
            message.subject, message.body_text = rendered.subject[:255], rendered.text
            message.body_html = rendered.html
        except TemplateError as exc:
            message.error = held_reason(exc)
            if message.status == EmailStatus.HELD:
                message.hold_checks += 1
                message.next_attempt_at = _hold_recheck_at(now, message.hold_checks)
            message.save(update_fields=["error", "hold_checks", "next_attempt_at"])
            continue
        message.status, message.error, message.next_attempt_at = EmailStatus.QUEUED, "", now
        message.save(
            update_fields=[
                *("subject", "body_text", "body_html"),
                *("status", "error", "next_attempt_at"),
            ]
        )
        requeued += 1
    if requeued:
        oncommit.on_commit_once(sender_kick)
    return requeued


def _held_draft(message: EmailMessage) -> Draft:
    """A held row's template: its sequence email's or broadcast's current one, else the one
    held with it (kept as text)."""
    source = message.sequence_email or message.broadcast
    draft = Draft(
        subscriber=message.subscriber,
        key=message.key,
        kind=message.kind,
        subject=getattr(source, "subject", message.subject),
        body=getattr(source, "body", None) or getattr(source, "content", None) or "",
    )
    if source is None:
        draft.body = message.body_text
    else:
        draft.body_format, draft.layout = source.body_format, source.layout
    return draft


@transaction.atomic
def emails_requeue(*, message_ids: list[int]) -> int:
    """The creator's "release": held emails rendered again (after the template or the data
    was fixed) and queued if they render now; failed ones sent again as stored."""
    messages = list(lock_objects.emails_releasable(message_ids=message_ids))
    return _render_again(messages, now=timezone.now())


@transaction.atomic
def emails_cancel(*, message_ids: list[int]) -> int:
    """A creator decides a held (or failed) email must never go out: it stays in the log,
    cancelled, and no sweep touches it again."""
    return EmailMessage.objects.filter(
        pk__in=message_ids, status__in=[EmailStatus.HELD, EmailStatus.FAILED]
    ).update(status=EmailStatus.CANCELLED, next_attempt_at=None)


@transaction.atomic
def emails_held_recheck_batch(*, now=None, limit: int = HOLD_RECHECK_BATCH) -> int:
    """The hold sweep: claim held emails whose next check is due (SKIP LOCKED) and render
    them again; those whose cause is gone are queued and sent. Returns how many it checked."""
    now = now or timezone.now()
    messages = list(lock_objects.emails_held_due(now=now, limit=limit))
    _render_again(messages, now=now)
    return len(messages)


def emails_held_recheck(*, now=None, max_batches: int = 20) -> int:
    return drain_until_short(
        lambda limit: emails_held_recheck_batch(now=now, limit=limit),
        size=HOLD_RECHECK_BATCH,
        max_batches=max_batches,
    )[0]


def emails_held_recheck_soon(*, subscriber_ids) -> int:
    """Something these subscribers' held emails may have been waiting for happened (their
    login was created, a field was set): bring the check forward to now and ring the sweep.
    Runs inside the caller's transaction; the sweep itself is durable (beat runs it too)."""
    moved = EmailMessage.objects.filter(
        subscriber_id__in=list(subscriber_ids), status=EmailStatus.HELD
    ).update(next_attempt_at=timezone.now())
    if moved:
        oncommit.on_commit_once(_kick_hold_sweep)
    return moved


def held_emails_on_events(events) -> None:
    """A consumer: an event that may have removed a held email's cause (a field was set; the
    members app adds "login created") checks that subscriber's held emails now."""
    emails_held_recheck_soon(subscriber_ids={e.subscriber_id for e in events if e.subscriber_id})


def _kick_hold_sweep() -> None:
    from ..tasks import emails_held_recheck

    doorbell_ring(emails_held_recheck)
