"""Stripe's webhook: verify, store each event once by its id, and process it in a worker.

``checkout.session.completed`` and ``invoice.paid`` record a purchase (the same one for a
subscription's first invoice, which both name); ``charge.refunded``, a final
``invoice.payment_failed`` and ``customer.subscription.deleted`` apply what the product says
(``stripe_handlers``)."""

import json
import logging
from datetime import datetime, timedelta

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.doorbell import doorbell_ring
from apps.core.outbox import error_text
from apps.core.throttle import window_hit

from .lock_objects import events_pending_claim
from .models import EventStatus, StripeEvent
from .stripe_handlers import HANDLERS, Flagged, Ignored

logger = logging.getLogger(__name__)

EVENTS_PER_RUN = 50
EVENT_STUCK_AFTER = timedelta(minutes=2)
EVENT_MAX_ATTEMPTS = 5
EVENT_RETRY_AFTER = timedelta(minutes=2)


def stripe_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET)


# Receiving ---------------------------------------------------------------------------------


def stripe_event_refuse(*, reason: str, remote_addr: str | None, http_status: int) -> StripeEvent:
    """Log a webhook that was refused. Its body is not kept: nobody vouched for it."""
    logger.warning("stripe webhook refused (%s) from %s", reason, remote_addr)
    window_hit(f"refused:{remote_addr}")  # shared with the Webhook Generator's refusals
    return StripeEvent.objects.create(
        status=EventStatus.REFUSED,
        http_status=http_status,
        remote_addr=remote_addr,
        error=reason,
        processed_at=timezone.now(),
    )


def stripe_event_receive(
    *, body: bytes, signature: str | None, remote_addr: str | None
) -> tuple[StripeEvent, bool]:
    """Verify the signature with Stripe's library (its tolerance refuses a stale timestamp)
    and store the event once by its id; the worker is rung after commit. Raises
    ``stripe.SignatureVerificationError`` or ``ValueError`` (not JSON) for the view to refuse.
    Returns the event and whether it is new (a redelivery is not)."""
    stripe.Webhook.construct_event(
        body,
        signature,
        settings.STRIPE_WEBHOOK_SECRET,
        tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
    )
    payload = json.loads(body)  # exactly what Stripe sent, now that it is verified
    if not isinstance(payload, dict):
        raise ValueError("The event is not a JSON object.")
    event_id = str(payload.get("id") or "")
    if not event_id:
        raise ValueError("The event has no id.")
    existing = StripeEvent.objects.filter(event_id=event_id).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            row = StripeEvent.objects.create(
                event_id=event_id,
                type=str(payload.get("type") or ""),
                payload=payload,
                status=EventStatus.PENDING,
                http_status=200,
                remote_addr=remote_addr,
            )
            transaction.on_commit(_kick, robust=True)
    except IntegrityError:  # the same event arrived twice at once; the other copy won
        return StripeEvent.objects.get(event_id=event_id), False
    return row, True


def _kick() -> None:
    from .tasks import stripe_events_process

    doorbell_ring(stripe_events_process)


@transaction.atomic
def stripe_event_replay(*, event: StripeEvent) -> None:
    """Process a stored event again (after fixing a price, say). Every handler is
    idempotent, so replaying one that worked changes nothing."""
    if event.status == EventStatus.REFUSED:
        raise ValidationError("A refused webhook has no verified event to replay.")
    StripeEvent.objects.filter(pk=event.pk).update(
        status=EventStatus.PENDING, error="", result="", processed_at=None
    )
    transaction.on_commit(_kick, robust=True)


# Processing --------------------------------------------------------------------------------


def stripe_events_process(
    *, limit: int = EVENTS_PER_RUN, received_before: datetime | None = None
) -> tuple[int, bool]:
    """Process pending events oldest first, each in its own transaction, claimed with SKIP
    LOCKED so two workers never take the same one. Returns (how many, maybe more)."""
    done = 0
    while done < limit:
        if not stripe_event_process(received_before=received_before):
            return done, False
        done += 1
    return done, True


@transaction.atomic
def stripe_event_process(
    *, pk: int | None = None, received_before: datetime | None = None
) -> StripeEvent | None:
    """Claim one pending event and process it; its effects and its status commit together.
    A handler that raises is rolled back to a savepoint (the claim's lock is kept) and the
    event is marked failed with the error, for the admin to replay."""
    event = next(iter(events_pending_claim(limit=1, pk=pk, received_before=received_before)), None)
    if event is None:
        return None
    event.attempts += 1
    event.error = ""
    try:
        with transaction.atomic():
            try:
                event.result, event.status = _handle(event.payload), EventStatus.DONE
            except Flagged as exc:  # the flagged order is kept: it is the record
                event.result, event.status = str(exc), EventStatus.FLAGGED
    except Ignored as exc:
        event.result, event.status = str(exc), EventStatus.IGNORED
    except Exception as exc:  # any failure is this event's own: logged, shown, replayable
        logger.exception("stripe event %s failed", event.event_id)
        message = " ".join(exc.messages) if isinstance(exc, ValidationError) else repr(exc)
        event.result, event.status, event.error = "", EventStatus.FAILED, error_text(message)
    event.processed_at = timezone.now()
    event.save(update_fields=["attempts", "result", "status", "error", "processed_at"])
    return event


def stripe_events_resume_stuck() -> int:
    """Events stored but never processed (a lost ring, a dead worker): process them now;
    and retry an event that failed (a deadlock, a lost connection, Stripe's API down for a
    plan's cancel), after a pause that grows with each attempt, up to EVENT_MAX_ATTEMPTS."""
    now = timezone.now()
    for attempts in range(1, EVENT_MAX_ATTEMPTS):
        StripeEvent.objects.filter(
            status=EventStatus.FAILED,
            attempts=attempts,
            processed_at__lt=now - EVENT_RETRY_AFTER * attempts,
        ).update(status=EventStatus.PENDING)
    done, more = 0, True
    before = now - EVENT_STUCK_AFTER
    while more:
        ran, more = stripe_events_process(received_before=before)
        done += ran
    return done


def _handle(payload: dict) -> str:
    handler = HANDLERS.get(payload.get("type", ""))
    if handler is None:
        raise Ignored(f"Tessera does not act on {payload.get('type')!r} events.")
    obj = (payload.get("data") or {}).get("object") or {}
    return handler(obj, payload)
