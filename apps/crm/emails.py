"""Email: render, queue, send once; sequences and broadcasts feed the same outbox.

Every email is an ``EmailMessage`` row before anything is sent. Rendering happens when the
row is written; a template that fails (an undefined variable such as an empty
``subscriber.accessally_password``, a Liquid error) makes a *held* row with the reason instead
of a blank email. The sender claims one queued row at a time under a lease, sends it through
Django's email backend, and records the result. A worker killed after claiming leaves the
lease to expire; the reaper re-queues the row marked *uncertain* (the SMTP server may already
have it), so nothing is lost and a possible duplicate is visible.
"""

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from apps.core import oncommit
from apps.core.doorbell import doorbell_ring
from apps.core.leases import LeaseKind, lease_kind_register, leases_reap_one
from apps.core.outbox import (
    backoff,
    drain_until_short,
    error_text,
    lease_claim,
    lease_finish,
    rows_claim,
)

from . import event_types
from .email_html import BODY_TEXT, email_render
from .events import events_record_bulk
from .link_tracking import tracked_html
from .liquid import TemplateError, liquid_contexts, liquid_secret_links_redact
from .messaging_models import ALL_WEEKDAYS, SECRET_LINK_KINDS, TRANSACTIONAL_KINDS
from .models import (
    Broadcast,
    BroadcastStatus,
    EmailKind,
    EmailLayout,
    EmailMessage,
    EmailStatus,
    Sequence,
    SequenceEmail,
    SequenceSubscription,
    Subscriber,
    SubscriberState,
    SubscriptionState,
)

logger = logging.getLogger(__name__)

EMAIL_LEASE = timedelta(seconds=settings.EMAIL_LEASE_SECONDS)
# A held email is rendered again after HOLD_RECHECK_BASE, then twice as long each time up to
# HOLD_RECHECK_MAX: its cause (no login yet, an empty field) is usually gone in seconds, and an
# event (the login created, a field set) brings the check forward at once.
HOLD_RECHECK_BASE = timedelta(minutes=1)
HOLD_RECHECK_MAX = timedelta(hours=6)
HOLD_RECHECK_BATCH = 200
EMAIL_MAX_ATTEMPTS = 5
EMAIL_RETRY_BASE = timedelta(minutes=1)
EMAIL_SEND_BATCH = 200
SEQUENCE_BATCH = 500
BROADCAST_CHUNK = 1000


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


# Bulk email: it carries List-Unsubscribe and needs an unsubscribe link in its layout. The
# other kinds are transactional (asked for by the person: a confirmation, a login link).
BULK_KINDS = (EmailKind.SEQUENCE, EmailKind.BROADCAST, EmailKind.AUTOMATION)


def _default_layout_html() -> str | None:
    return EmailLayout.objects.filter(is_default=True).values_list("html", flat=True).first()


def _draft_render(draft: Draft, context: dict, default_layout: str | None):
    return email_render(
        subject=draft.subject,
        body=draft.body,
        body_format=draft.body_format,
        layout_html=draft.layout.html if draft.layout is not None else default_layout,
        context=context,
        marketing=draft.kind in BULK_KINDS,
    )


def _kick_sender() -> None:
    from .tasks import emails_send

    doorbell_ring(emails_send)


def emails_enqueue(drafts: list[Draft]) -> int:
    """Render and write drafts as outbox rows (one query for the contexts, one insert); a row
    whose key exists already is left alone. Returns how many rows it wrote."""
    if not drafts:
        return 0
    contexts = liquid_contexts({d.subscriber.pk: d.subscriber for d in drafts}.values())
    default_layout = _default_layout_html()
    now, rows = timezone.now(), []
    for draft in drafts:
        context = contexts[draft.subscriber.pk]
        status, error, html = EmailStatus.QUEUED, "", ""
        try:
            rendered = _draft_render(draft, context, default_layout)
            subject, body, html = rendered.subject, rendered.text, rendered.html
        except TemplateError as exc:
            status, subject, body = EmailStatus.HELD, draft.subject, draft.body
            error = _held_reason(exc)
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
    oncommit.on_commit_once(_kick_sender)
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
    if kind not in TRANSACTIONAL_KINDS:
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
    oncommit.on_commit_once(_kick_sender)
    return message


_URL = re.compile(r"(https?://[^/\s]+)/\S*")


def link_redact(body: str) -> str:
    """The body with every link cut to its origin (what the outbox keeps once a one-time
    link has gone out)."""
    return _URL.sub(r"\1/… (one-time link, removed once sent)", body)


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
        rendered = _draft_render(draft, context, _default_layout_html())
    except TemplateError as exc:
        return {"subject": subject, "body": body, "error": str(exc), "line": exc.line}
    return {
        "subject": rendered.subject,
        "body": rendered.text,
        "html": rendered.html,
        "error": None,
    }


def _held_reason(exc: TemplateError) -> str:
    return (
        f"Held, not sent: {exc}. It is sent by itself once it renders (the login exists, the "
        "field is set); or fix the template, or release or cancel it by hand."
    )


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
    default_layout = _default_layout_html()
    requeued = 0
    for message in messages:
        if message.status == EmailStatus.FAILED:
            message.status, message.error, message.attempts = EmailStatus.QUEUED, "", 0
            message.next_attempt_at = now
            message.save(update_fields=["status", "error", "attempts", "next_attempt_at"])
            requeued += 1
            continue
        try:
            rendered = _draft_render(
                _held_draft(message), contexts[message.subscriber_id], default_layout
            )
            message.subject, message.body_text = rendered.subject[:255], rendered.text
            message.body_html = rendered.html
        except TemplateError as exc:
            message.error = _held_reason(exc)
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
        oncommit.on_commit_once(_kick_sender)
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
    messages = list(
        EmailMessage.objects.filter(
            pk__in=message_ids, status__in=[EmailStatus.HELD, EmailStatus.FAILED]
        )
        .select_related("subscriber", "sequence_email", "broadcast")
        .order_by("pk")
        .select_for_update(of=("self",))
    )
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
    messages = list(
        rows_claim(
            EmailMessage.objects.filter(status=EmailStatus.HELD, next_attempt_at__lte=now)
            .select_related("subscriber", "sequence_email", "broadcast")
            .order_by("next_attempt_at", "pk"),
            limit=limit,
        )
    )
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
    from .tasks import emails_held_recheck

    doorbell_ring(emails_held_recheck)


# Sending ----------------------------------------------------------------------------------


EMAILS_LEASE_KIND = "emails"


def email_claim_next(*, now=None) -> tuple[EmailMessage, int] | None:
    """Claim the oldest due email under a lease: (the message, its lease token), or None."""
    now = now or timezone.now()
    claimed = lease_claim(
        EMAILS_LEASE_KIND,
        EmailMessage.objects.filter(status=EmailStatus.QUEUED, next_attempt_at__lte=now).order_by(
            "next_attempt_at", "pk"
        ),
        limit=1,
        now=now,
    )
    if not claimed:
        return None
    ((pk, token),) = claimed
    return EmailMessage.objects.select_related("subscriber").get(pk=pk), token


def emails_reap(*, now=None) -> int:
    """Messages whose sender died mid-send (or whose lease ran out) go back to the queue."""
    return leases_reap_one(EMAILS_LEASE_KIND, now=now)


def _emails_free(ids: list[int], reason: str, counted: bool) -> int:
    """The SMTP server may or may not have these: send again (never lose one) and mark them
    uncertain (a duplicate is possible)."""
    freed = EmailMessage.objects.filter(pk__in=ids).update(
        status=EmailStatus.QUEUED,
        uncertain=True,
        next_attempt_at=timezone.now(),
        locked_until=None,
        lease_holder="",
    )
    oncommit.on_commit_once(_kick_sender)
    return freed


lease_kind_register(
    LeaseKind(
        name=EMAILS_LEASE_KIND,
        model=EmailMessage,
        leased=Q(status=EmailStatus.SENDING),
        free=_emails_free,
        lease=EMAIL_LEASE,
        claimed={"status": EmailStatus.SENDING},
    )
)


def _suppressed(message: EmailMessage) -> str:
    """Why this email must not go out now ("" if it may)."""
    state = message.subscriber.state
    if message.kind in TRANSACTIONAL_KINDS:
        return ""
    if state in (SubscriberState.BOUNCED, SubscriberState.COMPLAINED):
        return f"subscriber is {state}"
    if state == SubscriberState.CANCELLED:
        if message.is_marketing:
            return "subscriber unsubscribed"
        if not message.subscriber.keep_purchase_emails:
            return "subscriber unsubscribed from everything, purchase emails included"
    return ""


def _finish(message_id: int, token: int, **fields) -> bool:
    """Record a send under the lease; a sender that lost it (it stalled, and the email was
    handed on) writes nothing."""
    return lease_finish(EMAILS_LEASE_KIND, message_id, token, **fields)


def _mail(message: EmailMessage, connection) -> EmailMultiAlternatives:
    """The stored message as it goes out: text part, HTML part when it has one, and on bulk
    mail the RFC 8058 one-click unsubscribe headers (Gmail and Yahoo require them of bulk
    senders). Transactional mail carries none of them."""
    from .preferences import unsubscribe_url

    headers = {"X-Tessera-Email": str(message.pk)}
    if message.kind in BULK_KINDS:
        headers["List-Unsubscribe"] = f"<{unsubscribe_url(message.subscriber)}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        to=[message.to_email],
        from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
        connection=connection,
        headers=headers,
    )
    if message.body_html:
        email.attach_alternative(tracked_html(message), "text/html")
    # A provider through anymail sends this back with each tracking event; other backends
    # ignore the attribute.
    email.metadata = {"tessera_email": str(message.pk)}
    return email


def _provider_message_id(email) -> str:
    """The provider's id for a sent email (anymail backends), else ""."""
    status = getattr(email, "anymail_status", None)
    return str(getattr(status, "message_id", None) or "")[:255]


def emails_send(*, now=None, limit: int = EMAIL_SEND_BATCH) -> int:
    """Claim and send queued emails one at a time over one SMTP connection."""
    emails_reap(now=now)
    sent = 0
    connection = None
    try:
        for _ in range(limit):
            claimed = email_claim_next(now=now)
            if claimed is None:
                break
            message, token = claimed
            reason = _suppressed(message)
            if reason:
                _finish(message.pk, token, status=EmailStatus.SUPPRESSED, error=reason)
                continue
            if connection is None:
                connection = get_connection()
                connection.open()
            email = _mail(message, connection)
            try:
                email.send()
            except Exception as exc:  # an SMTP or network failure: retry with backoff
                attempts = message.attempts + 1
                failed = attempts >= EMAIL_MAX_ATTEMPTS
                _finish(
                    message.pk,
                    token,
                    attempts=F("attempts") + 1,
                    error=error_text(exc),
                    status=EmailStatus.FAILED if failed else EmailStatus.QUEUED,
                    next_attempt_at=None
                    if failed
                    else timezone.now() + backoff(attempts=attempts, base=EMAIL_RETRY_BASE),
                )
                connection = None
                continue
            secret = message.kind in SECRET_LINK_KINDS
            won = _finish(
                message.pk,
                token,
                status=EmailStatus.SENT,
                sent_at=timezone.now(),
                attempts=F("attempts") + 1,
                error="",
                provider_message_id=_provider_message_id(email),
                **({"body_text": link_redact(message.body_text)} if secret else {}),
            )
            sent += won
    finally:
        if connection is not None:
            connection.close()
    return sent


# Sequences --------------------------------------------------------------------------------


def _send_slot(when: datetime, email: SequenceEmail) -> datetime:
    """The first moment from ``when`` on one of the email's send days and inside its send
    window, both read in the site's time zone (TIME_ZONE): "Tuesdays 9:00-11:00" means the
    creator's Tuesday morning, not UTC's."""
    days = set(email.send_days or ALL_WEEKDAYS)
    start, end = email.send_window_start, email.send_window_end
    if len(days) == 7 and start is None and end is None:
        return when
    local = timezone.localtime(when)
    for _ in range(8):
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if local.weekday() in days:
            opens = midnight.replace(hour=start.hour, minute=start.minute) if start else midnight
            closes = midnight.replace(hour=end.hour, minute=end.minute) if end else None
            if local < opens:
                return opens
            if closes is None or local < closes:
                return local
        local = midnight + timedelta(days=1)
    return local


def _next_email(emails: list[SequenceEmail], position: int) -> SequenceEmail | None:
    return next((e for e in emails if e.position >= position and e.published), None)


def _due(email: SequenceEmail, after: datetime) -> datetime:
    return _send_slot(after + timedelta(days=email.delay_days, hours=email.delay_hours), email)


@transaction.atomic
def sequence_subscribe(*, subscriber: Subscriber, sequence: Sequence, source: str) -> bool:
    """Add to a sequence; True if that started (or restarted) it. As in Kit: someone already
    in it (or on hold at the end of a Hold sequence) keeps their place; someone who
    completed it starts again from the first email only if the sequence has Repeat; someone
    who left it starts again."""
    emails = list(sequence.emails.order_by("position", "pk"))
    first = _next_email(emails, 0)
    now = timezone.now()
    sub, created = SequenceSubscription.objects.get_or_create(
        subscriber=subscriber,
        sequence=sequence,
        defaults={
            "source": source,
            "next_position": first.position if first else 0,
            "next_send_at": _due(first, now) if first else now,
        },
    )
    if not created:
        sub = SequenceSubscription.objects.select_for_update().get(pk=sub.pk)
        if sub.state == SubscriptionState.ACTIVE:
            return False
        if sub.state == SubscriptionState.COMPLETED and not sequence.repeat:
            return False
        sub.state, sub.finished_at, sub.source = SubscriptionState.ACTIVE, None, source
        sub.round += 1
        sub.next_position = first.position if first else 0
        sub.next_send_at = _due(first, now) if first else now
        sub.save()
    events_record_bulk(
        events=[
            (
                subscriber.pk,
                event_types.COURSE_SUBSCRIBE,
                {"sequence_id": sequence.pk, "source": source},
            )
        ]
    )
    oncommit.on_commit_once(_kick_sequences)
    return True


def sequence_place(*, subscriber: Subscriber, sequence: Sequence) -> str:
    """Where the subscriber stands in the sequence: "in progress", "on hold" (at the end of
    a Hold sequence), "completed", "left" or "" (never added)."""
    sub = (
        SequenceSubscription.objects.filter(subscriber=subscriber, sequence=sequence)
        .values_list("state", "next_send_at")
        .first()
    )
    if sub is None:
        return ""
    state, next_send_at = sub
    if state == SubscriptionState.ACTIVE:
        return "in progress" if next_send_at is not None else "on hold"
    return "completed" if state == SubscriptionState.COMPLETED else "left"


def _email_key(sub: SequenceSubscription, email: SequenceEmail) -> str:
    # The first pass keeps the original key; a repeated pass has its own, so its emails are
    # new outbox rows rather than duplicates of the first pass's.
    if sub.round <= 1:
        return f"sequence:{sub.pk}:email:{email.pk}"
    return f"sequence:{sub.pk}:round:{sub.round}:email:{email.pk}"


def _kick_sequences() -> None:
    from .tasks import sequences_send

    doorbell_ring(sequences_send)


@transaction.atomic
def sequences_sweep_batch(*, now=None, limit: int = SEQUENCE_BATCH) -> int:
    """Claim due subscriptions (SKIP LOCKED), queue their due email, schedule the next or
    complete the sequence. A fixed number of queries per batch, whatever its size."""
    now = now or timezone.now()
    subs = list(
        rows_claim(
            SequenceSubscription.objects.filter(
                state=SubscriptionState.ACTIVE, next_send_at__lte=now
            )
            .select_related("subscriber", "sequence")
            .order_by("next_send_at", "pk"),
            limit=limit,
        )
    )
    if not subs:
        return 0
    emails: dict[int, list[SequenceEmail]] = {}
    for email in (
        SequenceEmail.objects.filter(sequence_id__in={s.sequence_id for s in subs})
        .select_related("layout")
        .order_by("position", "pk")
    ):
        emails.setdefault(email.sequence_id, []).append(email)
    drafts, events = [], []
    for sub in subs:
        listed = emails.get(sub.sequence_id, [])
        email = _next_email(listed, sub.next_position)
        if email is not None:
            drafts.append(
                Draft(
                    subscriber=sub.subscriber,
                    key=_email_key(sub, email),
                    kind=EmailKind.SEQUENCE,
                    subject=email.subject,
                    body=email.body,
                    is_marketing=not sub.sequence.is_purchase,
                    sequence_email=email,
                    body_format=email.body_format,
                    layout=email.layout,
                    track_clicks=email.track_clicks,
                    track_opens=email.track_opens,
                )
            )
            sub.last_sent_at = now
            following = _next_email(listed, email.position + 1)
            after = email.position + 1
        else:
            following, after = None, sub.next_position
        if following is None and sub.sequence.hold:
            # Kit's Hold: stay in the sequence at this place, for emails published later.
            sub.next_position, sub.next_send_at = after, None
            events.append(
                (sub.subscriber_id, event_types.COURSE_HOLD, {"sequence_id": sub.sequence_id})
            )
        elif following is None:
            sub.state, sub.finished_at, sub.next_send_at = SubscriptionState.COMPLETED, now, None
            events.append(
                (sub.subscriber_id, event_types.COURSE_COMPLETE, {"sequence_id": sub.sequence_id})
            )
        else:
            sub.next_position, sub.next_send_at = following.position, _due(following, now)
    emails_enqueue(drafts)
    SequenceSubscription.objects.bulk_update(
        subs, ["state", "finished_at", "next_send_at", "next_position", "last_sent_at"]
    )
    events_record_bulk(events=events)
    return len(subs)


@transaction.atomic
def sequences_holds_resume(*, now=None, limit: int = SEQUENCE_BATCH) -> int:
    """Subscribers on hold at the end of a Hold sequence get an email published after they
    got there: schedule it, its delay counted from their last email (at once if that time
    has passed). One query finds them (SKIP LOCKED), whatever the number on hold."""
    now = now or timezone.now()
    later = SequenceEmail.objects.filter(
        sequence_id=OuterRef("sequence_id"),
        published=True,
        position__gte=OuterRef("next_position"),
    )
    subs = list(
        rows_claim(
            SequenceSubscription.objects.filter(
                Exists(later), state=SubscriptionState.ACTIVE, next_send_at__isnull=True
            ).order_by("pk"),
            limit=limit,
        )
    )
    if not subs:
        return 0
    emails: dict[int, list[SequenceEmail]] = {}
    for email in SequenceEmail.objects.filter(
        sequence_id__in={s.sequence_id for s in subs}
    ).order_by("position", "pk"):
        emails.setdefault(email.sequence_id, []).append(email)
    for sub in subs:
        email = _next_email(emails.get(sub.sequence_id, []), sub.next_position)
        sub.next_position = email.position
        sub.next_send_at = max(now, _due(email, sub.last_sent_at or now))
    SequenceSubscription.objects.bulk_update(subs, ["next_position", "next_send_at"])
    return len(subs)


def sequences_send(*, now=None, max_batches: int = 50) -> int:
    sequences_holds_resume(now=now)
    return drain_until_short(
        lambda limit: sequences_sweep_batch(now=now, limit=limit),
        size=SEQUENCE_BATCH,
        max_batches=max_batches,
    )[0]


# Broadcasts -------------------------------------------------------------------------------


def broadcast_audience(broadcast: Broadcast):
    from apps.tags.conditions import subscribers_matching  # crm's messaging may use the compiler

    audience = Subscriber.objects.filter(state=SubscriberState.ACTIVE, broadcasts_opted_out=False)
    if broadcast.condition:
        audience = subscribers_matching(broadcast.condition, audience)
    return audience


@transaction.atomic
def broadcast_send(*, broadcast: Broadcast) -> int:
    """Queue the broadcast to its audience now (in chunks); sending it twice sends nothing
    more. Returns how many emails it queued."""
    broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
    if broadcast.status in (BroadcastStatus.SENDING, BroadcastStatus.COMPLETED):
        return 0
    broadcast.status = BroadcastStatus.SENDING
    broadcast.save(update_fields=["status"])
    queued = 0
    audience = broadcast_audience(broadcast).order_by("pk")
    last = 0
    while True:
        chunk = list(audience.filter(pk__gt=last)[:BROADCAST_CHUNK])
        if not chunk:
            break
        queued += emails_enqueue(
            [
                Draft(
                    subscriber=s,
                    key=f"broadcast:{broadcast.pk}:{s.pk}",
                    kind=EmailKind.BROADCAST,
                    subject=broadcast.subject,
                    body=broadcast.content,
                    broadcast=broadcast,
                    body_format=broadcast.body_format,
                    layout=broadcast.layout,
                    track_clicks=broadcast.track_clicks,
                    track_opens=broadcast.track_opens,
                    from_email=broadcast.email_address,
                )
                for s in chunk
            ]
        )
        last = chunk[-1].pk
    broadcast.status, broadcast.published_at = BroadcastStatus.COMPLETED, timezone.now()
    broadcast.save(update_fields=["status", "published_at"])
    return queued


def broadcasts_send_due(*, now=None) -> int:
    now = now or timezone.now()
    due = Broadcast.objects.filter(status=BroadcastStatus.SCHEDULED, send_at__lte=now)
    return sum(broadcast_send(broadcast=b) for b in due)


def broadcast_stats(broadcast: Broadcast) -> dict:
    """Kit's v3 broadcast stats, from what was sent and what became of it."""
    from .tracking import email_report

    messages = EmailMessage.objects.filter(broadcast=broadcast)
    report = email_report(messages)
    recipients = report["recipients"]
    queued = messages.filter(status__in=[EmailStatus.QUEUED, EmailStatus.SENDING]).exists()

    def rate(count: int) -> float:
        return round(100.0 * count / recipients, 2) if recipients else 0.0

    return {
        "recipients": recipients,
        "open_rate": rate(report["unique_opens"]),
        "click_rate": rate(report["unique_clicks"]),
        "unsubscribes": report["unsubscribes"],
        "total_clicks": report["clicks"],
        "show_total_clicks": True,
        "status": broadcast.status,
        "progress": 100.0 if recipients and not queued else 0.0,
    }
