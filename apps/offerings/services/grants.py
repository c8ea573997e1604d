"""Granting and revoking access: tags are the permissions; grants record when and why."""

from collections import defaultdict

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.crm.events import event_record, events_record_bulk
from apps.crm.models import Subscriber
from apps.tags.models import Tagging
from apps.tags.services import tag_memo, taggings_add, taggings_remove

from ..event_types import ACCESS_GRANTED, ACCESS_REVOKED
from ..lock_objects import (
    grant_for_update,
    grants_active_among_for_update,
)
from ..models import (
    AccessGrant,
    Offering,
)
from .drip import grants_release_due


@transaction.atomic
def offering_grant(
    *,
    subscriber: Subscriber,
    offering: Offering,
    source: str,
    now=None,
    announce: bool = False,
    new_login: bool = False,
) -> AccessGrant:
    """Give access: the base tag, and every module due now, then the drip for the rest.

    Granting again after a revoke continues the drip from the first grant (modules that came
    due meanwhile open at once); it does not restart it. Granting an active grant again changes
    nothing, and records no ``access_granted`` unless ``announce``: a release always ends in
    that event (``already_active`` says it changed nothing), so a flow waiting for "access to
    this offering" moves on for a returning member as for a new one (``new_login``)."""
    now = now or timezone.now()
    grant = grant_for_update(subscriber_id=subscriber.pk, offering_id=offering.pk).first()
    changed = False
    if grant is None:
        try:
            with transaction.atomic():
                grant = AccessGrant.objects.create(
                    subscriber=subscriber, offering=offering, granted_at=now, source=source
                )
            changed = True
        except IntegrityError:
            grant = grant_for_update(subscriber_id=subscriber.pk, offering_id=offering.pk).get()
    if grant.revoked_at is not None:
        grant.revoked_at, changed = None, True
        grant.save(update_fields=["revoked_at"])
        taggings_remove(
            pairs=[(subscriber.pk, offering.revoke_tag_id)], source=f"offering:{source}"
        )
    taggings_add(pairs=[(subscriber.pk, offering.base_tag_id)], source=f"offering:{source}")
    grants_release_due(grants=[grant], now=now, source=source)
    if changed or announce:
        event_record(
            subscriber_id=subscriber.pk,
            type=ACCESS_GRANTED,
            payload={
                "offering_id": offering.pk,
                "source": source,
                "new_login": new_login,
                "already_active": not changed,
            },
        )
    return grant


@transaction.atomic
def offering_revoke(*, subscriber: Subscriber, offering: Offering, source: str) -> bool:
    """End access: the grant's end time and the revoke tag (which wins over every allow tag).
    The account, progress and release history stay."""
    ended = offering_end(subscriber=subscriber, offering=offering, source=source)
    taggings_add(pairs=[(subscriber.pk, offering.revoke_tag_id)], source=f"offering:{source}")
    return ended


def _revoke_tags() -> dict[int, list[int]]:
    """Revoke tag id -> the offerings it revokes (one small query: one row per offering)."""
    by_tag: dict[int, list[int]] = defaultdict(list)
    for offering_id, tag_id in Offering.objects.order_by().values_list("pk", "revoke_tag_id"):
        by_tag[tag_id].append(offering_id)
    return dict(by_tag)


def grants_end_on_revoke_tags(pairs: list[tuple[int, int]], source: str) -> int:
    """Tags are permissions: an offering's Revoke Access tag added by anyone (an admin, an
    automation, the API, an import) ends that member's active grant in the same transaction,
    so the dashboard, the pages and the API agree at once. Removing the tag again does not
    restore access; a new release (or Update User with an access tag) does, and the drip
    carries on from the first grant. When no revoke tag is among ``pairs``'s tags: one small
    query, once per engine chunk (``tag_memo``)."""
    revoke_tags = tag_memo("offerings.revoke_tags", _revoke_tags)
    by_tag = {t: revoke_tags[t] for _, t in pairs if t in revoke_tags}
    if not by_tag:
        return 0
    wanted = {(s, o) for s, t in pairs for o in by_tag.get(t, ())}
    grants = [
        g
        for g in grants_active_among_for_update(
            subscriber_ids={s for s, _ in wanted}, offering_ids={o for _, o in wanted}
        )
        if (g.subscriber_id, g.offering_id) in wanted
    ]
    now = timezone.now()
    for grant in grants:
        grant.revoked_at, grant.next_release_at = now, None
    AccessGrant.objects.bulk_update(grants, ["revoked_at", "next_release_at"])
    events_record_bulk(
        events=[
            (
                g.subscriber_id,
                ACCESS_REVOKED,
                {"offering_id": g.offering_id, "source": source, "by": "revoke tag"},
            )
            for g in grants
        ]
    )
    return len(grants)


@transaction.atomic
def offering_sync_from_tags(*, subscriber: Subscriber, offering: Offering, source: str) -> str:
    """AccessAlly's "Update User": read the subscriber's tags and grant, revoke or release to
    match. Returns what it did."""
    held = set(
        Tagging.objects.filter(
            subscriber=subscriber,
            tag_id__in=[
                offering.revoke_tag_id,
                offering.base_tag_id,
                offering.instant_tag_id,
                offering.purchase_tag_id,
            ],
        ).values_list("tag_id", flat=True)
    )
    if offering.revoke_tag_id in held:
        return (
            "revoked"
            if offering_revoke(subscriber=subscriber, offering=offering, source=source)
            else "already revoked"
        )
    if held:
        offering_grant(subscriber=subscriber, offering=offering, source=source)
        return "access granted or kept"
    if offering_end(subscriber=subscriber, offering=offering, source=source):
        return "no access tag any more: access ended"
    return "no access tags; nothing to do"


@transaction.atomic
def offering_end(*, subscriber: Subscriber, offering: Offering, source: str) -> bool:
    """End an active grant without adding the revoke tag: the subscriber's access tags are
    gone, so the tags already say "no access", and the drip must not hand any back."""
    grant = grant_for_update(subscriber_id=subscriber.pk, offering_id=offering.pk).first()
    if grant is None or grant.revoked_at is not None:
        return False
    grant.revoked_at, grant.next_release_at = timezone.now(), None
    grant.save(update_fields=["revoked_at", "next_release_at"])
    event_record(
        subscriber_id=subscriber.pk,
        type=ACCESS_REVOKED,
        payload={"offering_id": offering.pk, "source": source},
    )
    return True
