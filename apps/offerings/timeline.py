"""The member's access and progress beside the subscriber's timeline (crm.timeline)."""

from collections import Counter

from django.urls import reverse
from django.utils import formats

from apps.crm.models import Subscriber
from apps.crm.timeline import PanelRow, SubscriberPanel

from .models import AccessGrant, Module, ModuleRelease
from .selectors import lesson_counts


def access_panel(subscriber: Subscriber) -> SubscriberPanel:
    """Every grant (active or revoked) with modules released and lessons completed: five
    queries whatever the number of offerings, modules or lessons."""
    grants = list(
        AccessGrant.objects.filter(subscriber=subscriber)
        .select_related("offering")
        .order_by("offering__name")
    )
    offering_ids = [g.offering_id for g in grants]
    modules = Counter(
        Module.objects.filter(offering_id__in=offering_ids).values_list("offering_id", flat=True)
    )
    released = Counter(
        ModuleRelease.objects.filter(grant__in=grants).values_list("grant_id", flat=True)
    )
    lessons, done = lesson_counts(subscriber_id=subscriber.pk, offering_ids=offering_ids)
    rows = []
    for grant in grants:
        total, completed = lessons[grant.offering_id], done[grant.offering_id]
        percent = round(100 * completed / total) if total else 0
        state = (
            f"revoked {formats.date_format(grant.revoked_at, 'SHORT_DATETIME_FORMAT')}"
            if grant.revoked_at
            else f"since {formats.date_format(grant.granted_at, 'SHORT_DATE_FORMAT')}"
        )
        rows.append(
            PanelRow(
                label=grant.offering.name,
                value=f"{state} · modules {released[grant.pk]}/{modules[grant.offering_id]}"
                f" · lessons {completed}/{total} ({percent} %)",
                url=reverse("admin:offerings_accessgrant_change", args=[grant.pk]),
            )
        )
    return SubscriberPanel(title="Access and progress", rows=rows, empty="No access granted.")
