"""The Webhook Generator's operations (release, update, revoke) for one contact."""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.crm.models import Subscriber
from apps.crm.services import (
    email_normalize,
    subscriber_get_or_create,
)
from apps.offerings.models import Offering
from apps.offerings.services import offering_grant, offering_revoke, offering_sync_from_tags
from apps.tags.services import taggings_remove

from ..lock_objects import subscriber_for_update
from ..models import (
    Operation,
)
from .accounts import member_login_ensure

logger = logging.getLogger(__name__)


def _subscriber_for(*, email: str | None, subscriber_id: int | None, create: bool) -> Subscriber:
    if email:
        if create:
            return subscriber_get_or_create(email=email)[0]
        found = Subscriber.objects.filter(email=email_normalize(email)).first()
    else:
        found = Subscriber.objects.filter(pk=subscriber_id).first()
    if found is None:
        who = email or f"id {subscriber_id}"
        raise ValidationError(
            f"No subscriber with {who}; a Release creates one, this operation does not."
        )
    return found


def operation_run(
    *,
    operation: str,
    offering: Offering,
    email: str | None = None,
    subscriber_id: int | None = None,
    source: str,
    firing_tag_id: int | None = None,
) -> str:
    """Run one of the Webhook Generator's operations for one contact; return what it did.
    Each is idempotent: running it again changes nothing more."""
    subscriber, done = _operation_apply(
        operation=operation,
        offering=offering,
        email=email,
        subscriber_id=subscriber_id,
        source=source,
        firing_tag_id=firing_tag_id,
    )
    return f"{subscriber.email}: {done}"


@transaction.atomic
def _operation_apply(
    *,
    operation: str,
    offering: Offering,
    email: str | None,
    subscriber_id: int | None,
    source: str,
    firing_tag_id: int | None,
) -> tuple[Subscriber, str]:
    """``operation_run``'s work: the subscriber it acted on, and what it did."""
    subscriber = _subscriber_for(
        email=email, subscriber_id=subscriber_id, create=operation == Operation.RELEASE
    )
    subscriber = subscriber_for_update(subscriber.pk)
    if operation == Operation.RELEASE:
        login = member_login_ensure(subscriber=subscriber, offering=offering, source=source)
        offering_grant(
            subscriber=subscriber,
            offering=offering,
            source=source,
            announce=True,
            new_login=login.created,
        )
        done = ("member created" if login.created else "member existed") + "; access granted"
    elif operation == Operation.UPDATE:
        done = offering_sync_from_tags(subscriber=subscriber, offering=offering, source=source)
    elif operation == Operation.REVOKE:
        revoked = offering_revoke(subscriber=subscriber, offering=offering, source=source)
        done = "access revoked" if revoked else "no active access; revoke tag added"
    else:
        raise ValidationError(f"Unknown operation {operation!r}.")
    if firing_tag_id:
        # The guide removes the tag after the webhook ran so it can fire again later.
        taggings_remove(pairs=[(subscriber.pk, firing_tag_id)], source=source)
    return subscriber, done
