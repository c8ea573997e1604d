"""Calls to the Webhook Generator's URLs: reading the contact, logging, rate limits, and
running accepted calls (claimed a batch at a time, finished together)."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from apps.core.bulk import rows_update
from apps.core.doorbell import doorbell_ring
from apps.core.outbox import lease_lost
from apps.core.throttle import window_allow, window_hit
from apps.crm.events import events_buffered
from apps.crm.models import Subscriber
from apps.crm.services import (
    email_normalize,
)
from apps.tags.services import tag_names_memo

from ..lock_objects import calls_accepted_claim
from ..models import (
    CallStatus,
    Operation,
    WebhookCall,
    WebhookEndpoint,
)
from ..purchases import purchase_handler
from .operations import _operation_apply

logger = logging.getLogger(__name__)

REDACTED = "[redacted]"
_SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey", "signature")


class ContactError(ValueError):
    """The request names no usable contact; the message says what to send."""


EMAIL_KEYS = (
    "subscriber.email_address",
    "email",
    "email_address",
    "contact[email]",
    "contact.email",
    "Email",
)
ID_KEYS = ("subscriber.id", "id", "contactId", "contact_id", "contact[id]", "contact.id")


def _flatten(data, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict):
                flat.update(_flatten(value, name))
            else:
                flat[name] = value[0] if isinstance(value, list) and len(value) == 1 else value
    return flat


def contact_from_payload(data) -> tuple[str | None, int | None]:
    """The contact a CRM sent: Kit's ``{"subscriber": {...}}``, a form post or JSON, with the
    email or the id under the names CRMs use. An email wins over an id."""
    flat = _flatten(data if isinstance(data, dict) else {})
    for key in EMAIL_KEYS:
        value = flat.get(key)
        if isinstance(value, str) and value.strip():
            try:
                return email_normalize(value), None
            except ValidationError:
                raise ContactError(f"'{key}' is not a valid email address: {value!r}.") from None
    for key in ID_KEYS:
        value = flat.get(key)
        if value not in (None, ""):
            try:
                return None, int(str(value).strip())
            except ValueError:
                raise ContactError(
                    f"'{key}' must be a subscriber id (a number), got {value!r}."
                ) from None
    raise ContactError(
        "No contact in the request: send the email as 'email' (or Kit's "
        "subscriber.email_address), or the subscriber id as 'id', 'contactId', 'contact_id' or "
        "'contact[id]'."
    )


def payload_redact(data):
    if isinstance(data, dict):
        return {
            k: (REDACTED if any(w in str(k).lower() for w in _SECRET_WORDS) else payload_redact(v))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [payload_redact(v) for v in data]
    return data


def _kick() -> None:
    from ..tasks import webhook_calls_process

    doorbell_ring(webhook_calls_process)


def webhook_call_accept(
    *,
    endpoint: WebhookEndpoint,
    payload: dict,
    remote_addr: str | None,
    path: str,
    delivery_id: str = "",
) -> tuple[WebhookCall, bool]:
    """Log an accepted call and queue its processing after commit. A repeated delivery id
    returns the first call and queues nothing, even when the copies arrive at once."""
    delivery_id = delivery_id[:200]
    if delivery_id:
        first = WebhookCall.objects.filter(endpoint=endpoint, delivery_id=delivery_id).first()
        if first is not None:
            return first, False
    try:
        with transaction.atomic():
            call = WebhookCall.objects.create(
                endpoint=endpoint,
                payload=payload_redact(payload),
                remote_addr=remote_addr,
                path=path_redact(path),
                http_status=202,
                status=CallStatus.ACCEPTED,
                delivery_id=delivery_id,
            )
            transaction.on_commit(_kick, robust=True)
    except IntegrityError:
        # The same delivery arrived twice at once: the other copy won the unique constraint.
        return WebhookCall.objects.get(endpoint=endpoint, delivery_id=delivery_id), False
    return call, True


def path_redact(path: str) -> str:
    """The logged path without its signature: the log must not hand out working URLs."""
    head, _, _signature = path.rstrip("/").rpartition("/")
    return f"{head}/{REDACTED}/"[:500] if head.count("/") >= 5 else path[:500]


REFUSALS_PER_ADDRESS_PER_MINUTE = 30


def webhook_refusals_exceeded(*, remote_addr: str | None) -> bool:
    """This address had REFUSALS_PER_ADDRESS_PER_MINUTE calls refused in the last minute.
    Read on every call, so a counter in the cache (one round trip), not the call log."""
    return not window_allow(
        f"refused:{remote_addr}", limit=REFUSALS_PER_ADDRESS_PER_MINUTE, count=False
    )


def webhook_call_rate_record(*, endpoint: WebhookEndpoint) -> bool:
    """Count this call against its URL's rate; False when the URL has now taken more than
    INBOUND_WEBHOOK_RATE_PER_MINUTE calls in the last minute (this one counts)."""
    return window_allow(f"inbound:{endpoint.pk}", limit=settings.INBOUND_WEBHOOK_RATE_PER_MINUTE)


def webhook_call_refuse(
    *,
    endpoint: WebhookEndpoint | None,
    payload: dict,
    remote_addr: str | None,
    path: str,
    http_status: int,
    error: str,
    count_refusal: bool = True,
) -> WebhookCall:
    """Log a refused call. The body is kept only for a caller that held a valid URL (a 400);
    the view stops logging an address that keeps knocking (no log flooding). A 429 is logged
    without counting as one more refusal (``count_refusal``)."""
    if count_refusal:
        window_hit(f"refused:{remote_addr}")
    return WebhookCall.objects.create(
        endpoint=endpoint,
        payload=payload_redact(payload) if http_status == 400 else {},
        remote_addr=remote_addr,
        path=path_redact(path),
        http_status=http_status,
        status=CallStatus.REFUSED,
        error=error,
        finished_at=timezone.now(),
    )


CALLS_PER_BATCH = 50
CALLS_LEASE_KIND = "webhook calls"
# An accepted call is rung at once; one still waiting after this lost its ring (a flushed
# broker, a dead worker). Calls being run are row-locked and skipped, so the sweep may be
# eager: a lost ring costs seconds, not minutes.
CALL_STUCK_AFTER = timedelta(seconds=10)
CALLS_RESUMED_PER_SWEEP = 200


class _BatchRedo(Exception):
    """A call of the batch raised: the batch is rolled back and its calls run one by one."""


def webhook_calls_process(
    *, limit: int = CALLS_PER_BATCH, received_before: datetime | None = None
) -> tuple[int, bool]:
    """Run up to ``limit`` accepted calls, oldest first, in one transaction; return how many
    ran and whether more may be waiting.

    The calls are claimed with SKIP LOCKED, so two workers take different ones; their events
    are inserted together and tag names looked up once (a launch sends thousands of calls
    within minutes, and one task and one commit per call was most of a worker's time). A call
    whose operation raises anything rolls the whole batch back, and its calls are then run
    one by one, each in its own transaction, so a bad call fails alone and says why; so are
    they when the batch's own writes fail (a deadlock with another batch, a lost
    connection)."""
    claimed: list[int] = []
    try:
        with transaction.atomic(), events_buffered(), tag_names_memo():
            calls = list(calls_accepted_claim(limit=limit, received_before=received_before))
            claimed = [call.pk for call in calls]
            now = timezone.now()
            for call in calls:
                outcome = _call_run(call, redo_on_error=True)
                call.status, call.result, call.error, call.subscriber_id = outcome
                call.finished_at = now
            rows_update(calls, _CALL_DONE_FIELDS)
    except (_BatchRedo, DatabaseError):  # a call raised, or the batch's own writes failed
        # Calls another worker ran meanwhile (this one stalled, and PostgreSQL ended its
        # transaction) are skipped: their lease was lost, and nothing is written for them.
        lost = [c for c in claimed if webhook_call_process(call_id=c) == "skipped"]
        lease_lost(CALLS_LEASE_KIND, lost)
    return len(claimed), len(claimed) == limit


_CALL_DONE_FIELDS = ["status", "result", "error", "finished_at", "subscriber"]


def webhook_call_process(*, call_id: int) -> str:
    """Run one accepted call's operation in a transaction of its own (a batch's fallback,
    and the task older releases queued per call). A call already run, or being run by
    another worker, is left alone: "skipped"."""
    with transaction.atomic():
        call = next(iter(calls_accepted_claim(limit=1, pk=call_id)), None)
        if call is None:
            return "skipped"
        call.status, call.result, call.error, call.subscriber_id = _call_run(call)
        call.finished_at = timezone.now()
        call.save(update_fields=_CALL_DONE_FIELDS)
    return call.status


def _call_run(
    call: WebhookCall, *, redo_on_error: bool = False
) -> tuple[str, str, str, int | None]:
    """Run the call's operation: (status, result, error, subscriber id). A contact the
    payload does not give is the call's own failure; with ``redo_on_error`` any failure of
    the operation itself raises ``_BatchRedo`` instead of being recorded."""
    endpoint = call.endpoint
    email, subscriber_id = None, None
    if endpoint.operation != Operation.PURCHASE:
        try:
            email, subscriber_id = contact_from_payload(call.payload)
        except ContactError as exc:
            return CallStatus.FAILED, "", str(exc), None
    try:
        if endpoint.operation == Operation.PURCHASE:
            # A cart's order: its own shape, read by the handler commerce registered.
            subscriber, done = purchase_handler().apply(
                endpoint=endpoint, payload=call.payload, source=f"webhook:{endpoint.public_id}"
            )
        else:
            subscriber, done = _operation_apply(
                operation=endpoint.operation,
                offering=endpoint.offering,
                email=email,
                subscriber_id=subscriber_id,
                source=f"webhook:{endpoint.public_id}",
                firing_tag_id=endpoint.trigger_tag_id,
            )
        return CallStatus.DONE, f"{subscriber.email}: {done}", "", subscriber.pk
    except Exception as exc:
        if redo_on_error:
            raise _BatchRedo from exc
        if isinstance(exc, ValidationError):
            error = " ".join(exc.messages)
        else:  # never leave a call "accepted" for ever: say what broke
            logger.exception("webhook call %s failed", call.pk)
            error = f"Unexpected error: {type(exc).__name__}: {exc}"
        return CallStatus.FAILED, "", error, _call_subscriber_id(email, subscriber_id)


def _call_subscriber_id(email: str | None, subscriber_id: int | None) -> int | None:
    """The subscriber a failed call named, if there is one."""
    if email:
        return Subscriber.objects.filter(email=email).values_list("pk", flat=True).first()
    if subscriber_id is None:
        return None
    return Subscriber.objects.filter(pk=subscriber_id).values_list("pk", flat=True).first()


def webhook_calls_resume_stuck() -> int:
    """Calls accepted but never processed (a lost broker message, a dead worker): run them
    now. Beat calls this; operations are idempotent, so a late duplicate changes nothing."""
    before = timezone.now() - CALL_STUCK_AFTER
    done, more = 0, True
    while more and done < CALLS_RESUMED_PER_SWEEP:
        ran, more = webhook_calls_process(received_before=before)
        done += ran
    return done


@transaction.atomic
def webhook_call_replay(*, call: WebhookCall) -> None:
    """Run a logged call again (after fixing what made it fail); its operations are
    idempotent, so replaying one that worked changes nothing."""
    if call.endpoint_id is None or call.status == CallStatus.REFUSED:
        raise ValidationError("Only accepted calls can be replayed.")
    WebhookCall.objects.filter(pk=call.pk).update(
        status=CallStatus.ACCEPTED, error="", finished_at=None
    )
    transaction.on_commit(_kick, robust=True)
