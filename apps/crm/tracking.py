"""What became of an email after it left: delivered, opened, clicked, bounced, complained.

Two sources feed one verb, ``email_activity_record``: the sending providers' tracking webhooks
(django-anymail normalises Postmark, SES via SNS, Mailgun, SendGrid, Brevo, Resend... into one
``tracking`` signal) and Tessera's own click redirect and open pixel. Each activity is a row
unique on (source, provider event id), so a provider posting the same event twice (they retry
on any doubt) is recorded once; the subscriber's event is written in the same transaction.
"""

import hashlib
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import event_types
from .events import event_record
from .models import ActivityKind, EmailActivity, EmailMessage, Subscriber, SubscriberState

logger = logging.getLogger(__name__)

# anymail's normalised event types -> ours. The others (queued, sent, deferred, rejected,
# failed, autoresponded, inbound, unknown) say nothing a flow or a report uses.
ANYMAIL_KINDS = {
    "delivered": ActivityKind.DELIVERED,
    "opened": ActivityKind.OPENED,
    "clicked": ActivityKind.CLICKED,
    "bounced": ActivityKind.BOUNCED,
    "complained": ActivityKind.COMPLAINED,
    "unsubscribed": ActivityKind.UNSUBSCRIBED,
}

_EVENT_TYPES = {
    ActivityKind.DELIVERED: event_types.EMAIL_DELIVERED,
    ActivityKind.OPENED: event_types.EMAIL_OPENED,
    ActivityKind.CLICKED: event_types.LINK_CLICK,
    ActivityKind.BOUNCED: event_types.SUBSCRIBER_BOUNCE,
    ActivityKind.COMPLAINED: event_types.SUBSCRIBER_COMPLAIN,
    ActivityKind.UNSUBSCRIBED: event_types.SUBSCRIBER_UNSUBSCRIBE,
}

# A bounce or complaint ends mailing for good (the provider would suspend the account);
# an unsubscribe reported by the provider (its own link) cancels as ours does.
_STATE_AFTER = {
    ActivityKind.BOUNCED: SubscriberState.BOUNCED,
    ActivityKind.COMPLAINED: SubscriberState.COMPLAINED,
    ActivityKind.UNSUBSCRIBED: SubscriberState.CANCELLED,
}


def _message_for(*, message_id: int | None, provider_message_id: str) -> EmailMessage | None:
    if message_id is not None:
        found = EmailMessage.objects.filter(pk=message_id).first()
        if found is not None:
            return found
    if provider_message_id:
        return EmailMessage.objects.filter(provider_message_id=provider_message_id).first()
    return None


@transaction.atomic
def email_activity_record(
    *,
    source: str,
    kind: str,
    event_id: str,
    message_id: int | None = None,
    provider_message_id: str = "",
    recipient: str = "",
    url: str = "",
) -> EmailActivity | None:
    """Record one activity once; None when it was recorded before or concerns nobody we
    know. Writes the subscriber's event (``email_opened``, ``link_click`` with the URL...)
    and, for a bounce or complaint, the suppressed state, in the same transaction."""
    message = _message_for(message_id=message_id, provider_message_id=provider_message_id)
    subscriber = message.subscriber if message is not None else None
    if subscriber is None and recipient:
        subscriber = Subscriber.objects.filter(email__iexact=recipient.strip()).first()
    if subscriber is None:
        logger.info("%s %s for an unknown recipient: ignored", source, kind)
        return None
    try:
        with transaction.atomic():
            activity = EmailActivity.objects.create(
                source=source[:32],
                event_id=event_id[:200],
                kind=kind,
                message=message,
                subscriber=subscriber,
                url=url[:2000],
            )
    except IntegrityError:
        return None  # the same event, posted again
    payload = {"email_id": message.pk if message else None, "source": source}
    if message is not None:
        payload.update(
            broadcast_id=message.broadcast_id, sequence_email_id=message.sequence_email_id
        )
    if url:
        # Kit's link_click hook filters on initiator_value, the link clicked.
        payload["url"] = payload["initiator_value"] = url
    state = _STATE_AFTER.get(kind)
    if state is not None:
        changed = Subscriber.objects.filter(pk=subscriber.pk).exclude(state=state)
        if state == SubscriberState.CANCELLED:
            changed = changed.filter(state=SubscriberState.ACTIVE)
        if not changed.update(state=state, updated_at=timezone.now()):
            return activity  # already so: the state's event was written then
    event_record(subscriber_id=subscriber.pk, type=_EVENT_TYPES[kind], payload=payload)
    return activity


def email_report(messages) -> dict:
    """The figures of a set of sent emails (a broadcast's, a sequence email's, an automation
    step's): recipients, delivered, opens, unique opens, clicks, unique clicks, bounces,
    complaints, unsubscribes. Three queries whatever the size."""
    from django.db.models import Count, Q

    from .models import EmailStatus

    sent = messages.filter(status=EmailStatus.SENT)
    activity = EmailActivity.objects.filter(message__in=sent)
    figures = activity.aggregate(
        delivered=Count("message", filter=Q(kind=ActivityKind.DELIVERED), distinct=True),
        opens=Count("pk", filter=Q(kind=ActivityKind.OPENED)),
        unique_opens=Count("message", filter=Q(kind=ActivityKind.OPENED), distinct=True),
        clicks=Count("pk", filter=Q(kind=ActivityKind.CLICKED)),
        unique_clicks=Count("message", filter=Q(kind=ActivityKind.CLICKED), distinct=True),
        bounces=Count("message", filter=Q(kind=ActivityKind.BOUNCED), distinct=True),
        complaints=Count("message", filter=Q(kind=ActivityKind.COMPLAINED), distinct=True),
    )
    recipients = sent.count()
    # An unsubscribe after this email: the subscriber's state now (Kit counts it so too).
    figures["unsubscribes"] = sent.filter(subscriber__state=SubscriberState.CANCELLED).count()
    figures["recipients"] = recipients
    return figures


def _fallback_event_id(event) -> str:
    """Some providers give no id for some events (Postmark's opens and deliveries): the
    event's own facts, hashed, stand in for one, so a repost is still recognised."""
    facts = "|".join(
        str(part)
        for part in (
            event.event_type,
            event.message_id,
            event.recipient,
            event.timestamp,
            event.click_url,
        )
    )
    return "h:" + hashlib.sha256(facts.encode()).hexdigest()[:40]


def on_anymail_tracking(sender, event, esp_name, **kwargs) -> None:
    """anymail's ``tracking`` signal, for every provider. Ignored without a webhook secret:
    the URL is then open to anyone (the view refuses it first; this is the second lock)."""
    if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
        return
    kind = ANYMAIL_KINDS.get(event.event_type)
    if kind is None:
        return
    tessera_id = (event.metadata or {}).get("tessera_email")
    email_activity_record(
        source=esp_name.lower().replace(" ", "_"),
        kind=kind,
        event_id=str(event.event_id or _fallback_event_id(event)),
        message_id=int(tessera_id) if str(tessera_id or "").isdigit() else None,
        provider_message_id=str(event.message_id or ""),
        recipient=event.recipient or "",
        url=event.click_url or "",
    )
