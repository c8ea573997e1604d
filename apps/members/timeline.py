"""Webhook Generator calls on the subscriber's timeline, and their login (crm.timeline)."""

from django.urls import reverse

from apps.crm.models import Subscriber
from apps.crm.timeline import PanelRow, SubscriberPanel, TimelineEntry, text_short

from .models import CallStatus, Member, WebhookCall


def webhook_calls_timeline(subscriber: Subscriber, limit: int) -> list[TimelineEntry]:
    """One query, by the subscriber each processed call was found to name."""
    calls = (
        WebhookCall.objects.filter(subscriber=subscriber)
        .select_related("endpoint__offering")
        .order_by("-id")[:limit]
    )
    return [
        TimelineEntry(
            at=call.received_at,
            kind="webhook call",
            title=f"Webhook call: {call.endpoint or 'unknown endpoint'}",
            detail=f"{call.http_status} {call.get_status_display()}"
            + (f": {text_short(call.result, 160)}" if call.result else "")
            + (f": {text_short(call.error, 160)}" if call.error else ""),
            url=reverse("admin:members_webhookcall_change", args=[call.pk]),
            failed=call.status in (CallStatus.FAILED, CallStatus.REFUSED),
        )
        for call in calls
    ]


def login_panel(subscriber: Subscriber) -> SubscriberPanel:
    member = Member.objects.filter(subscriber=subscriber).select_related("user").first()
    rows = []
    if member is not None:
        last = member.user.last_login
        rows = [
            PanelRow(
                "Member login",
                f"{member.user.get_username()} · last login {last:%Y-%m-%d %H:%M}"
                if last
                else f"{member.user.get_username()} · never logged in",
                reverse("admin:members_member_change", args=[member.pk]),
            )
        ]
    return SubscriberPanel(title="Member login", rows=rows, empty="No member login.")
