"""A subscriber's timeline: everything that happened to them, newest first, in one list.

crm contributes the event log (tag changes included), emails and Kit hook deliveries; higher
apps contribute theirs (automation runs with the path each took, webhook calls) through
``timeline_provider_register``, and the panels beside it (access and progress) through
``subscriber_panel_register``, both from ``AppConfig.ready()``. Each provider returns at most
``limit`` entries, newest first, in a fixed number of queries, so the page costs the same
whatever the length of the subscriber's history.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.urls import reverse

from .delivery import url_origin
from .event_types import event_types_all
from .models import EmailMessage, Event, Hook, Subscriber, WebhookDelivery

TIMELINE_LIMIT = 200
DETAIL_MAX = 300


@dataclass(frozen=True)
class TimelineStep:
    """One step a run took: its name, kind, outcome and the branch it chose."""

    label: str
    kind: str
    outcome: str
    at: datetime
    branch: str = ""
    detail: str = ""
    error: str = ""


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # event, tag, email, delivery, run, webhook call...
    title: str
    detail: str = ""
    url: str = ""
    failed: bool = False
    steps: tuple[TimelineStep, ...] = ()


@dataclass(frozen=True)
class PanelRow:
    label: str
    value: str
    url: str = ""


@dataclass(frozen=True)
class SubscriberPanel:
    """A box beside the timeline (the member's access and progress)."""

    title: str
    rows: list[PanelRow] = field(default_factory=list)
    empty: str = "Nothing yet."


Provider = Callable[[Subscriber, int], list[TimelineEntry]]
Panel = Callable[[Subscriber], SubscriberPanel | None]
_PROVIDERS: dict[str, Provider] = {}
_PANELS: dict[str, Panel] = {}
# Entry kind -> the permission needed to see it: the page is shown to whoever may view the
# subscriber, but an email, a delivery or a webhook call is only for those who may view those.
_KIND_PERMISSIONS: dict[str, str] = {}


def timeline_provider_register(
    *, name: str, provide: Provider, permissions: dict[str, str] | None = None
) -> None:
    """``permissions``: entry kind -> "app_label.view_model" a viewer needs to see it."""
    _PROVIDERS[name] = provide
    _KIND_PERMISSIONS.update(permissions or {})


def subscriber_panel_register(*, name: str, provide: Panel) -> None:
    _PANELS[name] = provide


def subscriber_timeline(
    *, subscriber: Subscriber, limit: int = TIMELINE_LIMIT, user=None
) -> list[TimelineEntry]:
    """The latest ``limit`` entries of every provider, merged, newest first; with ``user``,
    only the kinds of entry that user may view."""
    entries = [e for provide in _PROVIDERS.values() for e in provide(subscriber, limit)]
    if user is not None:
        allowed = {
            kind: user.has_perm(permission) for kind, permission in _KIND_PERMISSIONS.items()
        }
        entries = [e for e in entries if allowed.get(e.kind, True)]
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def subscriber_panels(*, subscriber: Subscriber) -> list[SubscriberPanel]:
    return [p for provide in _PANELS.values() if (p := provide(subscriber)) is not None]


def text_short(value, limit: int = DETAIL_MAX) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_TAG_TYPES = {"tag_add": "Tag added", "tag_remove": "Tag removed"}


def _event_entry(event: Event, labels: dict[str, str]) -> TimelineEntry:
    payload = dict(event.payload or {})
    source = payload.pop("source", "")
    if event.type in _TAG_TYPES:
        return TimelineEntry(
            at=event.created_at,
            kind="tag",
            title=f"{_TAG_TYPES[event.type]}: {payload.get('tag_name') or payload.get('tag_id')}",
            detail=f"by {source}" if source else "",
        )
    detail = text_short(payload) if payload else ""
    return TimelineEntry(
        at=event.created_at,
        kind="event",
        title=labels.get(event.type, event.type),
        detail=f"{detail} · by {source}" if source and detail else detail or source,
        url=reverse("admin:crm_event_change", args=[event.pk]),
        failed=event.failed_at is not None,
    )


def crm_timeline(subscriber: Subscriber, limit: int) -> list[TimelineEntry]:
    """Four queries: events, the hooks, the deliveries those events caused, emails."""
    labels = {t.key: t.label for t in event_types_all()}
    events = list(
        Event.objects.filter(subscriber=subscriber)
        .order_by("-id")[:limit]
        .only("pk", "type", "payload", "created_at", "failed_at")
    )
    entries = [_event_entry(e, labels) for e in events]
    # A hook's delivery is keyed by hook and event: exact keys, so the unique index serves it.
    hook_ids = list(Hook.objects.values_list("pk", flat=True))
    keys = [f"hook:{h}:event:{e.pk}" for h in hook_ids for e in events]
    deliveries = WebhookDelivery.objects.filter(key__in=keys).order_by("-id")[:limit]
    entries += [
        TimelineEntry(
            at=d.created_at,
            kind="delivery",
            title=f"Hook delivery to {url_origin(d.url)}",
            detail=f"{d.get_status_display()}, {d.attempts} attempt(s)"
            + (f", last answer {d.last_status_code}" if d.last_status_code else "")
            + (f": {text_short(d.last_error, 120)}" if d.last_error else ""),
            url=reverse("admin:crm_webhookdelivery_change", args=[d.pk]),
            failed=d.status in ("failed", "gone"),
        )
        for d in deliveries
    ]
    emails = EmailMessage.objects.filter(subscriber=subscriber).order_by("-id")[:limit]
    entries += [
        TimelineEntry(
            at=m.sent_at or m.created_at,
            kind="email",
            title=f"Email: {m.subject}",
            detail=m.get_status_display() + (f": {text_short(m.error, 160)}" if m.error else ""),
            url=reverse("admin:crm_emailmessage_change", args=[m.pk]),
            failed=m.status in ("failed", "held"),
        )
        for m in emails.only(
            "pk", "subject", "status", "error", "created_at", "sent_at", "subscriber_id"
        )
    ]
    return entries


timeline_provider_register(
    name="crm",
    provide=crm_timeline,
    permissions={
        "event": "crm.view_event",
        "email": "crm.view_emailmessage",
        "delivery": "crm.view_webhookdelivery",
    },
)
