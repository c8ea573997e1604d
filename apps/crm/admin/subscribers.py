"""The subscriber pages (with hand tools other apps extend), custom fields, the event log
and the outbound webhook log. Writes go through services, so every change leaves its events.

Apps above crm add to the subscriber page (tags, runs, access) through
``subscriber_admin_extend`` instead of crm importing them.
"""

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from .. import services
from ..models import (
    CustomField,
    Event,
    Subscriber,
    SubscriberFieldValue,
    SubscriberState,
    WebhookDelivery,
)
from ..timeline import TIMELINE_LIMIT, subscriber_panels, subscriber_timeline
from .base import LogAdminMixin


class SubscriberForm(forms.ModelForm):
    class Meta:
        model = Subscriber
        fields = ["email", "first_name", "is_test"]

    def clean_email(self):
        try:
            return services.email_normalize(self.cleaned_data["email"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None


# A hand tool on the subscriber page: given the request and the subscriber, the context of
# its box (``template`` names it; ``forms`` lists its forms' ids and actions, rendered after
# the page's own form, as forms cannot nest, and used with the ``form`` attribute), or None.
Tool = Callable[[HttpRequest, Subscriber], dict | None]
# States a creator may set by hand (inactive is a double opt-in's, not a choice).
HAND_STATES = [
    (value, label) for value, label in SubscriberState.choices if value != SubscriberState.INACTIVE
]


def _fields_tool(request: HttpRequest, subscriber: Subscriber) -> dict:
    values = dict(
        SubscriberFieldValue.objects.filter(subscriber=subscriber).values_list("field_id", "value")
    )
    return {
        "template": "admin/crm/subscriber/tool_fields.html",
        "forms": [
            ("subscriber-fields-form", reverse("admin:crm_subscriber_fields", args=[subscriber.pk]))
        ],
        "fields": [
            (field, "" if field.sensitive else values.get(field.pk, ""), field.pk in values)
            for field in CustomField.objects.order_by("label")
        ],
    }


def _state_tool(request: HttpRequest, subscriber: Subscriber) -> dict:
    return {
        "template": "admin/crm/subscriber/tool_state.html",
        "forms": [
            ("subscriber-state-form", reverse("admin:crm_subscriber_state", args=[subscriber.pk]))
        ],
        "state": subscriber.state,
        "states": HAND_STATES,
    }


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    form = SubscriberForm
    list_display = ["email", "first_name", "state", "is_test", "created_at"]
    list_filter = ["state", "is_test"]
    search_fields = ["email", "first_name"]
    readonly_fields = ["state", "cancelled_at", "created_at", "updated_at"]
    inlines = []  # field values are edited in the hand tools box
    actions = ["unsubscribe_selected"]
    list_per_page = 100
    show_full_result_count = False
    change_list_template = "admin/crm/import/subscriber_change_list.html"  # adds "Import CSV"

    change_form_template = "admin/crm/subscriber/change_form.html"
    # Boxes above the timeline that change one subscriber by hand, through the services
    # (higher apps add theirs, the tags box, with ``subscriber_admin_extend``).
    tools: list[Tool] = [_fields_tool, _state_tool]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        subscriber = self.get_object(request, unquote(object_id))
        if subscriber is not None and self.has_view_or_change_permission(request, subscriber):
            tools = []
            if self.has_change_permission(request, subscriber):
                tools = [box for tool in self.tools if (box := tool(request, subscriber))]
            extra_context = {
                **(extra_context or {}),
                "timeline": subscriber_timeline(subscriber=subscriber, user=request.user),
                "timeline_limit": TIMELINE_LIMIT,
                "panels": subscriber_panels(subscriber=subscriber),
                "hand_tools": tools,
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        def view(handler, name):
            return path(
                f"<int:pk>/{name}/",
                self.admin_site.admin_view(require_POST(handler)),
                name=f"crm_subscriber_{name}",
            )

        return [
            view(self.fields_view, "fields"),
            view(self.state_view, "state"),
            *super().get_urls(),
        ]

    def subscriber_for_change(self, request, pk: int) -> Subscriber:
        """The subscriber a hand tool changes, if this user may change it."""
        subscriber = get_object_or_404(Subscriber, pk=pk)
        if not self.has_change_permission(request, subscriber):
            raise PermissionDenied
        return subscriber

    def fields_view(self, request, pk):
        subscriber = self.subscriber_for_change(request, pk)
        values = {}
        for field in CustomField.objects.all():
            posted = request.POST.get(f"field:{field.key}")
            # A sensitive value is never shown, so a blank box means "leave it as it is".
            if posted is not None and not (field.sensitive and posted == ""):
                values[field.key] = posted.strip()
        try:
            changed = services.subscriber_fields_set(subscriber=subscriber, values=values)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.message_user(
                request,
                f"Saved {', '.join(changed)}." if changed else "No field value changed.",
            )
        return redirect("admin:crm_subscriber_change", subscriber.pk)

    def state_view(self, request, pk):
        subscriber = self.subscriber_for_change(request, pk)
        try:
            services.subscriber_state_set(
                subscriber=subscriber, state=request.POST.get("state", "")
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.message_user(request, f"State: {subscriber.get_state_display()}.")
        return redirect("admin:crm_subscriber_change", subscriber.pk)

    def save_model(self, request, obj, form, change):
        saved = services.subscriber_save(
            subscriber_id=obj.pk if change else None,
            email=form.cleaned_data["email"],
            first_name=form.cleaned_data["first_name"],
            is_test=form.cleaned_data["is_test"],
        )
        obj.pk = saved.pk

    @admin.action(description="Unsubscribe selected subscribers", permissions=["change"])
    def unsubscribe_selected(self, request, queryset):
        for subscriber in queryset:
            services.subscriber_unsubscribe(subscriber=subscriber)
        self.message_user(request, f"Unsubscribed {queryset.count()} subscriber(s).")


def subscriber_admin_extend(
    *, inlines=(), actions=(), list_filter=(), action_form=None, tools: tuple[Tool, ...] = ()
) -> None:
    """Let a higher app add inlines, actions, filters, an action form or hand tools to the
    subscriber page."""
    SubscriberAdmin.tools = [*tools, *SubscriberAdmin.tools]
    SubscriberAdmin.inlines = [*SubscriberAdmin.inlines, *inlines]
    SubscriberAdmin.actions = [*SubscriberAdmin.actions, *actions]
    SubscriberAdmin.list_filter = [*SubscriberAdmin.list_filter, *list_filter]
    if action_form is not None:
        SubscriberAdmin.action_form = action_form


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    list_display = ["label", "key", "name", "sensitive", "created_at"]
    search_fields = ["label", "key"]
    fields = ["label", "key", "name", "sensitive"]
    readonly_fields = ["key", "name", "sensitive"]

    def save_model(self, request, obj, form, change):
        try:
            if change:
                services.custom_field_relabel(field=obj, label=form.cleaned_data["label"])
            else:
                created = services.custom_field_create(label=form.cleaned_data["label"])
                obj.pk, obj.key = created.pk, created.key
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)

    def delete_model(self, request, obj):
        services.custom_field_delete(field=obj)


@admin.register(Event)
class EventAdmin(LogAdminMixin, admin.ModelAdmin):
    """The event log, read-only: it is the record of what happened."""

    list_display = ["id", "type", "subscriber", "created_at", "dispatched_at", "attempts"]
    list_filter = ["type", ("dispatched_at", admin.EmptyFieldListFilter), "failed_at"]
    search_fields = ["subscriber__email", "type"]
    list_select_related = ["subscriber"]
    show_full_result_count = False
    list_per_page = 100


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(LogAdminMixin, admin.ModelAdmin):
    """Every POST Tessera owes and how it went (the outbound log)."""

    list_display = [
        "id",
        "key",
        "url",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status"]
    search_fields = ["key", "url"]
    show_full_result_count = False
    list_per_page = 100
