"""crm's messaging admin: sequences (with preview), the email outbox, forms, purchases,
broadcasts and hooks. Writes go through services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from . import emails
from .admin import LogAdminMixin
from .broadcast_views import BroadcastSendingMixin
from .embed_admin import FormEmbedMixin
from .liquid import TemplateError, template_check
from .models import (
    Broadcast,
    BroadcastStatus,
    EmailLayout,
    EmailMessage,
    EmailTemplate,
    Form,
    Hook,
    Purchase,
    Sequence,
    SequenceEmail,
    Subscriber,
)

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
    from .tracking import email_report

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


WEEKDAYS = list(enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")))


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
            emails.email_preview(
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
        count = emails.emails_requeue(message_ids=ids)
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
        count = emails.emails_cancel(message_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Cancelled {count} email(s); they stay in the log.")


@admin.register(Form)
class FormAdmin(FormEmbedMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "double_opt_in", "page", "created_at"]

    @admin.display(description="hosted page")
    def page(self, obj):
        url = reverse("crm:form", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, url)


@admin.register(Purchase)
class PurchaseAdmin(admin.ModelAdmin):
    list_display = [
        "transaction_id",
        "email_address",
        "total",
        "currency",
        "status",
        "transaction_time",
    ]
    search_fields = ["transaction_id", "email_address"]
    readonly_fields = [f.name for f in Purchase._meta.fields]

    def has_add_permission(self, request):
        return False


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
        from .email_html import sender_check

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
            return [*BroadcastForm.Meta.fields, *self.readonly_fields]
        return self.readonly_fields

    @admin.action(description="Send selected broadcasts now", permissions=["change"])
    def send_now(self, request, queryset):
        """Asks first, with the number of people each broadcast will reach; sends on
        confirmation (Kit's confirmation step: one click never mails everyone)."""
        if request.POST.get("confirmed") != "yes":
            rows = [
                (b, emails.broadcast_audience(b).count() if b.status not in _SENT else None)
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
            queued = emails.broadcast_send(broadcast=broadcast)
            self.message_user(request, f"{broadcast}: queued {queued} email(s).")


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


@admin.register(Hook)
class HookAdmin(admin.ModelAdmin):
    list_display = [
        "event_name",
        "target_url",
        "tag_id",
        "form_id",
        "sequence_id",
        "active",
        "created_at",
    ]
    list_filter = ["event_name", "active"]
    readonly_fields = ["secret"]
