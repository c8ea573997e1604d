"""The broadcast admin's own pages: the live audience count, and the review page where a
creator sends a test to themselves, then sends now or schedules after reading the count.

Thin views: the verbs and the count live in ``messaging/broadcasts.py``; the builder in
``audience.py``.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from ..email_html import sender_check
from ..messaging import broadcasts
from ..messaging.broadcasts import audience_count
from ..models import Broadcast, BroadcastStatus
from .audience import AudienceBuilderWidget, AudienceField, audience_describe, condition_parse

# An audience in the count's query string is the builder's JSON; a longer one is not a
# builder's (CONDITION_MAX_LEAVES rules fit well under this).
COUNT_QUERY_MAX_CHARS = 32_000
SCHEDULE_FORMAT = "%Y-%m-%dT%H:%M"


def site_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


class BroadcastSendingMixin:
    """Adds to BroadcastAdmin: ``audience-count/``, ``<pk>/send/`` and ``<pk>/test/``, and
    the change page's "Review, test and send" link."""

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "audience-count/",
                wrap(self.audience_count_view),
                name="crm_broadcast_audience_count",
            ),
            path("<int:pk>/send/", wrap(self.send_view), name="crm_broadcast_send"),
            path("<int:pk>/test/", wrap(self.test_view), name="crm_broadcast_test"),
            *super().get_urls(),
        ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "condition":
            return AudienceField(
                label="Audience",
                widget=AudienceBuilderWidget(
                    count_url=reverse("admin:crm_broadcast_audience_count")
                ),
            )
        if db_field.name == "email_address":
            kwargs.setdefault("label", "Sender address")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def audience_count_view(self, request):
        """``{"count": n}`` for ``?condition=<json>`` (the builder's live count), or
        ``{"error": "..."}`` with 400. It tells how many subscribers hold tags, so it needs
        the right to see broadcasts and subscribers."""
        if not (self.has_view_permission(request) and request.user.has_perm("crm.view_subscriber")):
            return JsonResponse(
                {"error": "You need the rights to view broadcasts and subscribers."}, status=403
            )
        raw = request.GET.get("condition", "")
        if len(raw) > COUNT_QUERY_MAX_CHARS:
            return JsonResponse({"error": "The audience has too many rules."}, status=400)
        try:
            condition = condition_parse(raw)
        except ValidationError as exc:
            return JsonResponse({"error": " ".join(exc.messages)}, status=400)
        return JsonResponse({"count": audience_count(condition)})

    def _broadcast_for_change(self, request, pk) -> Broadcast:
        broadcast = get_object_or_404(Broadcast, pk=pk)
        if not self.has_change_permission(request, broadcast):
            raise PermissionDenied
        return broadcast

    def send_view(self, request, pk):
        """The review page: who gets it (the count), from which address, a test button, and
        "send now" or "schedule". A POST acts; nothing is sent by a GET."""
        broadcast = self._broadcast_for_change(request, pk)
        error = ""
        if request.method == "POST":
            try:
                done = self._send_act(request, broadcast)
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                messages.success(request, done)
                return HttpResponseRedirect(
                    reverse("admin:crm_broadcast_change", args=[broadcast.pk])
                )
        zone = site_zone()
        return TemplateResponse(
            request,
            "admin/crm/broadcast_send.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Send “{broadcast.subject}”",
                "broadcast": broadcast,
                "count": audience_count(broadcast.condition)
                if broadcast.status in broadcasts.UNSENT
                else None,
                "sender": broadcast.email_address or settings.DEFAULT_FROM_EMAIL,
                "sender_problem": sender_check(broadcast.email_address),
                "zone": settings.TIME_ZONE,
                "send_at_local": broadcast.send_at.astimezone(zone) if broadcast.send_at else None,
                "schedule_value": request.POST.get("send_at", ""),
                "schedule_min": timezone.now().astimezone(zone).strftime(SCHEDULE_FORMAT),
                "error": error,
                "opts": self.model._meta,
            },
        )

    def _send_act(self, request, broadcast: Broadcast) -> str:
        action = request.POST.get("action")
        if action == "now":
            queued = broadcasts.broadcast_send_now(broadcast=broadcast)
            return f"“{broadcast.subject}” is going out: {queued} email(s) queued."
        if action == "schedule":
            when = _parse_local(request.POST.get("send_at", ""))
            broadcasts.broadcast_schedule(broadcast=broadcast, send_at=when)
            return (
                f"“{broadcast.subject}” is scheduled for {when:%Y-%m-%d %H:%M} "
                f"({settings.TIME_ZONE})."
            )
        if action == "unschedule":
            broadcasts.broadcast_unschedule(broadcast=broadcast)
            return f"“{broadcast.subject}” is a draft again; nothing was sent."
        raise ValidationError("Choose “Send now” or “Schedule”.")

    def test_view(self, request, pk):
        """POST: mail the preview to the signed-in creator, then back to the review page."""
        broadcast = self._broadcast_for_change(request, pk)
        back = reverse("admin:crm_broadcast_send", args=[broadcast.pk])
        if request.method != "POST":
            return HttpResponseRedirect(back)
        try:
            broadcasts.broadcast_test_send(broadcast=broadcast, to_email=request.user.email)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"A test is on its way to {request.user.email}.")
        return HttpResponseRedirect(back)

    def sending(self, obj):
        if obj is None or not obj.pk:
            return "Save the broadcast first; then review, test and send it."
        if obj.status not in broadcasts.UNSENT:
            when = obj.published_at or obj.send_at
            local = f" {when.astimezone(site_zone()):%Y-%m-%d %H:%M} ({settings.TIME_ZONE})"
            return f"{obj.get_status_display()}{local if when else ''}"
        label = "Review, test and send →"
        if obj.status == BroadcastStatus.SCHEDULED and obj.send_at:
            when = obj.send_at.astimezone(site_zone())
            label = f"Scheduled for {when:%Y-%m-%d %H:%M} ({settings.TIME_ZONE}): review →"
        return format_html(
            '<a class="button" id="broadcast-review" href="{}">{}</a>',
            reverse("admin:crm_broadcast_send", args=[obj.pk]),
            label,
        )

    sending.short_description = "sending"

    def audience(self, obj):
        return audience_describe(obj.condition if obj is not None else None)


def _parse_local(text: str) -> datetime:
    """A ``datetime-local`` value, read in the site's time zone."""
    try:
        naive = datetime.strptime(text.strip(), SCHEDULE_FORMAT)
    except ValueError:
        raise ValidationError(
            "Pick the date and time to send (e.g. 2026-12-01 09:00, in the site's time zone)."
        ) from None
    return timezone.make_aware(naive, site_zone())
