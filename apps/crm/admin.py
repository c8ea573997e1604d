"""crm's admin. Writes go through services, so every change leaves its events.

Apps above crm add to the subscriber page (tags, runs, access) through
``subscriber_admin_extend`` instead of crm importing them.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError

from . import services
from .models import CustomField, Event, Subscriber, SubscriberFieldValue, WebhookDelivery
from .timeline import TIMELINE_LIMIT, subscriber_panels, subscriber_timeline


class SubscriberForm(forms.ModelForm):
    class Meta:
        model = Subscriber
        fields = ["email", "first_name", "is_test"]

    def clean_email(self):
        try:
            return services.email_normalize(self.cleaned_data["email"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None


class ReadOnlyAdminMixin:
    """A log or record that only services write: viewable, never added, changed or deleted
    by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """A list of related rows shown for reading: history and state that only services
    change. Subclasses name their ``fields``; all of them are read-only."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class FieldValueInline(ReadOnlyInline):
    model = SubscriberFieldValue
    fields = ["field", "shown_value", "updated_at"]
    verbose_name_plural = "Custom field values"

    @admin.display(description="value")
    def shown_value(self, obj):
        return services.REDACTED if obj.field.sensitive else obj.value

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("field")


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    form = SubscriberForm
    list_display = ["email", "first_name", "state", "is_test", "created_at"]
    list_filter = ["state", "is_test"]
    search_fields = ["email", "first_name"]
    readonly_fields = ["state", "cancelled_at", "created_at", "updated_at"]
    inlines = [FieldValueInline]
    actions = ["unsubscribe_selected"]
    list_per_page = 100
    show_full_result_count = False
    change_list_template = "admin/crm/import/subscriber_change_list.html"  # adds "Import CSV"

    change_form_template = "admin/crm/subscriber/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        subscriber = self.get_object(request, unquote(object_id))
        if subscriber is not None and self.has_view_or_change_permission(request, subscriber):
            extra_context = {
                **(extra_context or {}),
                "timeline": subscriber_timeline(subscriber=subscriber, user=request.user),
                "timeline_limit": TIMELINE_LIMIT,
                "panels": subscriber_panels(subscriber=subscriber),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if change:
            original = Subscriber.objects.get(pk=obj.pk)
            services.subscriber_update(
                subscriber=original,
                first_name=form.cleaned_data["first_name"],
                email=form.cleaned_data["email"],
            )
        else:
            created, _ = services.subscriber_get_or_create(
                email=form.cleaned_data["email"], first_name=form.cleaned_data["first_name"]
            )
            obj.pk = created.pk
        # Marking a test address is a flag the creator sets, not a change anything listens to.
        Subscriber.objects.filter(pk=obj.pk).update(is_test=form.cleaned_data["is_test"])

    @admin.action(description="Unsubscribe selected subscribers", permissions=["change"])
    def unsubscribe_selected(self, request, queryset):
        for subscriber in queryset:
            services.subscriber_unsubscribe(subscriber=subscriber)
        self.message_user(request, f"Unsubscribed {queryset.count()} subscriber(s).")


def subscriber_admin_extend(*, inlines=(), actions=(), list_filter=(), action_form=None) -> None:
    """Let a higher app add inlines, actions, filters or an action form to the subscriber page."""
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
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The event log, read-only: it is the record of what happened."""

    list_display = ["id", "type", "subscriber", "created_at", "dispatched_at", "attempts"]
    list_filter = ["type", ("dispatched_at", admin.EmptyFieldListFilter), "failed_at"]
    search_fields = ["subscriber__email", "type"]
    list_select_related = ["subscriber"]
    show_full_result_count = False
    list_per_page = 100


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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


from . import admin_import, admin_messaging  # noqa: E402,F401  (registers their admin pages)
