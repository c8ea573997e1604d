"""The email outbox, layouts and templates, and what the messaging pages share: the report
table and the form that refuses invalid Liquid."""

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from ..liquid import TemplateError, template_check
from ..messaging import held
from ..models import (
    EmailLayout,
    EmailMessage,
    EmailTemplate,
)
from .base import LogAdminMixin

REPORT_LABELS = (
    ("recipients", "Recipients"),
    ("delivered", "Delivered"),
    ("opens", "Opens"),
    ("unique_opens", "Unique opens"),
    ("clicks", "Clicks"),
    ("unique_clicks", "Unique clicks"),
    ("bounces", "Bounces"),
    ("complaints", "Complaints"),
    ("unsubscribes", "Unsubscribes"),
)


def report_html(messages):
    """An email's report as a small table (broadcasts and sequence emails show it)."""
    from ..tracking import email_report

    figures = email_report(messages)
    rows = format_html_join(
        "", "<tr><th>{}</th><td>{}</td></tr>", ((label, figures[k]) for k, label in REPORT_LABELS)
    )
    return format_html('<table class="email-report">{}</table>', rows)


class TemplateFieldsForm(forms.ModelForm):
    """Refuses invalid Liquid on save, naming the line (Kit's "Invalid Liquid")."""

    template_fields: tuple[str, ...] = ()

    def clean(self):
        cleaned = super().clean()
        for name in self.template_fields:
            try:
                template_check(cleaned.get(name) or "")
            except TemplateError as exc:
                self.add_error(name, f"Invalid Liquid: {exc}")
        return cleaned


@admin.register(EmailMessage)
class EmailMessageAdmin(LogAdminMixin, admin.ModelAdmin):
    """The outbox: every email, rendered, with what became of it."""

    list_display = [
        "id",
        "to_email",
        "subject",
        "kind",
        "purpose",
        "status",
        "uncertain",
        "attempts",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "kind", "uncertain", "is_marketing"]
    search_fields = ["to_email", "subject", "key"]
    readonly_fields = [
        "subscriber",
        "key",
        "kind",
        "is_marketing",
        "to_email",
        "subject",
        "body_text",
        "body_html",
        "from_email",
        "status",
        "attempts",
        "error",
        "uncertain",
        "created_at",
        "sent_at",
        "sequence_email",
        "broadcast",
        "next_attempt_at",
    ]
    fields = readonly_fields
    actions = ["requeue", "cancel"]
    show_full_result_count = False
    list_per_page = 100

    @admin.display(description="marketing?", ordering="is_marketing")
    def purpose(self, obj):
        return "Marketing" if obj.is_marketing else "Transactional"

    def get_fields(self, request, obj=None):
        # Bodies hold live set-password links: reading them is a right of its own.
        fields = super().get_fields(request, obj)
        if request.user.has_perm("crm.view_emailmessage_body"):
            return fields
        return [f for f in fields if f != "body_text"]

    @admin.action(
        description="Release: render held or failed emails again and send them",
        permissions=["change"],
    )
    def requeue(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        count = held.emails_requeue(message_ids=ids)
        self.message_user(request, f"Queued {count} email(s) again.")
        if count < len(ids):
            self.message_user(
                request,
                f"{len(ids) - count} still cannot be sent (still held, or neither held nor "
                "failed); open one to read why.",
                level=messages.WARNING,
            )

    @admin.action(
        description="Cancel held or failed emails (never send them)", permissions=["change"]
    )
    def cancel(self, request, queryset):
        count = held.emails_cancel(message_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Cancelled {count} email(s); they stay in the log.")


class EmailLayoutForm(TemplateFieldsForm):
    template_fields = ("html",)

    class Meta:
        model = EmailLayout
        fields = ["name", "html", "is_default"]


@admin.register(EmailLayout)
class EmailLayoutAdmin(admin.ModelAdmin):
    """Kit's email templates: the creator's header and footer around every marketing email."""

    form = EmailLayoutForm
    list_display = ["name", "is_default", "created_at"]


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    """Layouts broadcasts may name (Kit's email templates, listed by /v4/email_templates)."""

    list_display = ["name", "category", "is_default", "created_at"]
