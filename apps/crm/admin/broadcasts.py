"""Broadcasts: edit (the audience in the visual builder), review, test, send or schedule."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse

from ..messaging import broadcasts
from ..models import (
    Broadcast,
    BroadcastStatus,
)
from .broadcast_review import BroadcastSendingMixin
from .emails import TemplateFieldsForm, report_html


class BroadcastForm(TemplateFieldsForm):
    template_fields = ("subject", "content")

    class Meta:
        model = Broadcast
        fields = [
            "subject",
            "content",
            "description",
            "email_address",
            "public",
            "condition",
            "body_format",
            "layout",
            "track_clicks",
            "track_opens",
            "email_template",
            "preview_text",
            "thumbnail_url",
            "thumbnail_alt",
        ]

    def clean_email_address(self):
        from ..email_html import sender_check

        address = self.cleaned_data.get("email_address") or ""
        problem = sender_check(address)
        if problem:
            raise forms.ValidationError(problem)
        return address


_SENT = (BroadcastStatus.SENDING, BroadcastStatus.COMPLETED)


@admin.register(Broadcast)
class BroadcastAdmin(BroadcastSendingMixin, admin.ModelAdmin):
    form = BroadcastForm
    list_display = ["subject", "status", "send_at", "published_at"]
    actions = ["send_now"]
    readonly_fields = ["sending", "status", "send_at", "report"]

    @admin.display(description="report")
    def report(self, obj):
        return report_html(obj.messages.all()) if obj.pk else "-"

    def get_readonly_fields(self, request, obj=None):
        # A sent broadcast is a record of what went out: nothing in it changes any more.
        if obj is not None and obj.status in _SENT:
            shown = [f for f in BroadcastForm.Meta.fields if f != "condition"]
            return ["audience", *shown, *self.readonly_fields]
        return self.readonly_fields

    @admin.action(description="Send selected broadcasts now", permissions=["change"])
    def send_now(self, request, queryset):
        """Asks first, with the number of people each broadcast will reach; sends on
        confirmation (Kit's confirmation step: one click never mails everyone)."""
        if request.POST.get("confirmed") != "yes":
            rows = [
                (b, broadcasts.broadcast_audience(b).count() if b.status not in _SENT else None)
                for b in queryset
            ]
            return TemplateResponse(
                request,
                "admin/crm/broadcast_confirm.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Send these broadcasts now?",
                    "rows": rows,
                    "ids": [b.pk for b in queryset],
                    "action": "send_now",
                    "opts": self.model._meta,
                },
            )
        for broadcast in queryset:
            if broadcast.status != BroadcastStatus.DRAFT and broadcast.status != (
                BroadcastStatus.SCHEDULED
            ):
                self.message_user(request, f"{broadcast} was already sent.", messages.WARNING)
                continue
            try:
                queued = broadcasts.broadcast_send_now(broadcast=broadcast)
            except ValidationError as exc:
                self.message_user(request, f"{broadcast}: {' '.join(exc.messages)}", messages.ERROR)
                continue
            self.message_user(request, f"{broadcast}: queued {queued} email(s).")
