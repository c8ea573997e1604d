"""Signed links in every marketing email: unsubscribe, and the subscriber's preferences.

The link carries the subscriber id signed with the site's key (salted per purpose), so it
needs no login and cannot be forged or pointed at someone else. It does not expire: people
unsubscribe from old emails too."""

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse

from . import event_types
from .events import event_record
from .models import SequenceSubscription, Subscriber, SubscriptionState

UNSUBSCRIBE_SALT = "tessera.crm.unsubscribe"
PREFERENCES_SALT = "tessera.crm.preferences"


def _token(subscriber: Subscriber, salt: str) -> str:
    return signing.dumps(subscriber.pk, salt=salt, compress=True)


def subscriber_from_token(token: str, *, purpose: str) -> Subscriber | None:
    salt = UNSUBSCRIBE_SALT if purpose == "unsubscribe" else PREFERENCES_SALT
    try:
        sid = signing.loads(token, salt=salt)
    except signing.BadSignature:
        return None
    return Subscriber.objects.filter(pk=sid).first()


def unsubscribe_url(subscriber: Subscriber) -> str:
    path = reverse("crm:unsubscribe", args=[_token(subscriber, UNSUBSCRIBE_SALT)])
    return f"{settings.SITE_URL}{path}"


def preferences_url(subscriber: Subscriber) -> str:
    path = reverse("crm:preferences", args=[_token(subscriber, PREFERENCES_SALT)])
    return f"{settings.SITE_URL}{path}"


def _sequences_cancel(subscriber: Subscriber, subscriptions) -> int:
    ids = [s.pk for s in subscriptions]
    SequenceSubscription.objects.filter(pk__in=ids).update(
        state=SubscriptionState.CANCELLED, next_send_at=None
    )
    for sub in subscriptions:
        event_record(
            subscriber_id=subscriber.pk,
            type=event_types.COURSE_CANCEL,
            payload={"sequence_id": sub.sequence_id},
        )
    return len(ids)


@transaction.atomic
def subscriber_unsubscribe_everything(*, subscriber: Subscriber, keep_purchase_emails: bool):
    """The unsubscribe link: state cancelled (runs exit on its event), marketing sequences
    cancelled, history kept. Purchase sequences go on only if the subscriber chose to keep
    emails about what they bought."""
    from .services import subscriber_unsubscribe

    subscriber.keep_purchase_emails = keep_purchase_emails
    subscriber.save(update_fields=["keep_purchase_emails"])
    subscriber_unsubscribe(subscriber=subscriber)
    active = SequenceSubscription.objects.filter(
        subscriber=subscriber, state=SubscriptionState.ACTIVE
    ).select_related("sequence")
    _sequences_cancel(
        subscriber, [s for s in active if not (keep_purchase_emails and s.sequence.is_purchase)]
    )


@transaction.atomic
def subscriber_preferences_set(
    *,
    subscriber: Subscriber,
    keep_sequence_ids: set[int],
    broadcasts: bool,
    keep_purchase_emails: bool,
) -> None:
    """The preferences page: which sequences to stay in, broadcasts yes or no."""
    subscriber.broadcasts_opted_out = not broadcasts
    subscriber.keep_purchase_emails = keep_purchase_emails
    subscriber.save(update_fields=["broadcasts_opted_out", "keep_purchase_emails"])
    leaving = SequenceSubscription.objects.filter(
        subscriber=subscriber, state=SubscriptionState.ACTIVE
    ).exclude(sequence_id__in=keep_sequence_ids)
    _sequences_cancel(subscriber, list(leaving))
