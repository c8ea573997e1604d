"""Sequences and their emails (with preview and report)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from ..messaging import rendering
from ..models import (
    Sequence,
    SequenceEmail,
    Subscriber,
)
from .emails import TemplateFieldsForm, report_html

WEEKDAYS = [
    (0, "Mon"),
    (1, "Tue"),
    (2, "Wed"),
    (3, "Thu"),
    (4, "Fri"),
    (5, "Sat"),
    (6, "Sun"),
]


class SequenceEmailForm(TemplateFieldsForm):
    """Send days as weekday checkboxes (stored as the list of weekday numbers, 0 = Monday)."""

    template_fields = ("subject", "body")
    send_days = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one day to send on."},
        help_text="Days this email may go out (in the site's time zone).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound and self.instance is not None:
            self.initial["send_days"] = list(self.instance.send_days or range(7))

    def clean_send_days(self):
        return sorted(set(self.cleaned_data["send_days"]))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("send_window_start"), cleaned.get("send_window_end")
        if start and end and start >= end:
            self.add_error(
                "send_window_end", "The window must end after it starts (e.g. 09:00 to 17:00)."
            )
        return cleaned

    class Meta:
        model = SequenceEmail
        fields = [
            "position",
            "subject",
            "body",
            "delay_days",
            "delay_hours",
            "published",
            "send_days",
            "send_window_start",
            "send_window_end",
            "body_format",
            "layout",
            "track_clicks",
            "track_opens",
        ]


class SequenceEmailInline(admin.StackedInline):
    model = SequenceEmail
    form = SequenceEmailForm
    extra = 0
    fields = [
        "position",
        "subject",
        "body",
        "delay_days",
        "delay_hours",
        "published",
        "send_days",
        "send_window_start",
        "send_window_end",
        "body_format",
        "layout",
        "preview_link",
    ]
    readonly_fields = ["preview_link"]

    @admin.display(description="preview")
    def preview_link(self, obj):
        if not obj.pk:
            return "Save first"
        return format_html(
            '<a href="{}">Preview for a subscriber</a>',
            reverse("admin:crm_sequenceemail_preview", args=[obj.pk]),
        )


@admin.register(Sequence)
class SequenceAdmin(admin.ModelAdmin):
    list_display = ["name", "is_purchase", "created_at"]
    search_fields = ["name"]
    inlines = [SequenceEmailInline]


@admin.register(SequenceEmail)
class SequenceEmailAdmin(admin.ModelAdmin):
    form = SequenceEmailForm
    list_display = ["subject", "sequence", "position", "published"]
    list_select_related = ["sequence"]
    readonly_fields = ["report"]

    @admin.display(description="report")
    def report(self, obj):
        return report_html(obj.messages.all()) if obj.pk else "-"

    def get_urls(self):
        return [
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="crm_sequenceemail_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request, pk):
        """Render the email for a chosen subscriber, showing a Liquid error with its line.
        It shows a subscriber's data, so it needs "view email" and "view subscriber"; their
        secrets (sensitive fields, set-password links) only with the right to see them."""
        email = get_object_or_404(SequenceEmail, pk=pk)
        if not (
            self.has_view_permission(request, email)
            and request.user.has_perm("crm.view_subscriber")
        ):
            raise PermissionDenied
        may_see_secrets = request.user.has_perm("crm.view_subscriber_secrets")
        subscriber = (
            Subscriber.objects.filter(pk=request.GET.get("subscriber")).first()
            if request.GET.get("subscriber", "").isdigit()
            else None
        )
        subscriber = subscriber or Subscriber.objects.order_by("pk").first()
        rendered = (
            rendering.email_preview(
                subject=email.subject,
                body=email.body,
                subscriber=subscriber,
                body_format=email.body_format,
                layout=email.layout,
                show_sensitive=may_see_secrets,
            )
            if subscriber
            else None
        )
        return TemplateResponse(
            request,
            "admin/crm/email_preview.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Preview: {email.subject}",
                "email": email,
                "subscriber": subscriber,
                "rendered": rendered,
                "secrets_hidden": not may_see_secrets,
                "opts": self.model._meta,
            },
        )
