from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path

from apps.crm.admin import LogAdminMixin, ReadOnlyInline
from apps.offerings.models import Offering
from apps.tags.widgets import TagNameField

from . import services
from .models import Member, Operation, WebhookCall, WebhookEndpoint
from .purchases import Cart


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["user", "subscriber", "created_at", "source"]
    search_fields = ["user__username", "subscriber__email"]
    list_select_related = ["user", "subscriber"]
    readonly_fields = ["user", "subscriber", "created_at", "source"]

    def has_add_permission(self, request):
        return False


class MintForm(forms.Form):
    operation = forms.ChoiceField(choices=Operation.choices)
    offering = forms.ModelChoiceField(queryset=Offering.objects.all())
    trigger_tag = TagNameField(
        required=False,
        label="CRM tag that fires it (optional)",
        help_text="With a tag, the built-in CRM POSTs to the URL when the tag is added, and the "
        "operation removes the tag afterwards. A new name creates the tag.",
    )
    label = forms.CharField(max_length=200, required=False)
    cart = forms.ChoiceField(
        choices=[("", "—"), *Cart.choices],
        required=False,
        label="Cart (purchase operation)",
        help_text="The cart whose order webhook posts to this URL.",
    )
    cart_secret = forms.CharField(
        max_length=200,
        required=False,
        label="Cart secret",
        help_text="ThriveCart's secret word, the WooCommerce webhook secret, your Gumroad "
        "seller id, or the Stripe signing secret (whsec_...). SamCart sends none.",
    )


class CallInline(ReadOnlyInline):
    model = WebhookCall
    fields = ["received_at", "http_status", "status", "result", "error"]
    max_num = 20


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """The Webhook Generator: mint, copy, rotate, revoke; each endpoint's last calls."""

    list_display = ["__str__", "operation", "offering", "trigger_tag", "status"]
    readonly_fields = [
        "public_id",
        "operation",
        "offering",
        "trigger_tag",
        "cart",
        "status",
        "created_at",
        "rotated_at",
        "url",
    ]
    fields = ["label", *readonly_fields]
    inlines = [CallInline]

    def has_add_permission(self, request):
        return False  # endpoints are minted on the generator page, not the add form

    def get_urls(self):
        urls = super().get_urls()
        custom = [
            path(
                "<int:pk>/rotate/",
                self.admin_site.admin_view(self.rotate_view),
                name="members_webhookendpoint_rotate",
            ),
            path(
                "<int:pk>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="members_webhookendpoint_revoke",
            ),
        ]
        return custom + urls

    # A URL is a capability: seeing, minting, rotating and revoking one each need their own
    # permission, beyond viewing the endpoint (``WebhookEndpoint.Meta.permissions``).
    def has_url_permission(self, request) -> bool:
        return request.user.has_perm("members.view_webhookendpoint_url")

    def has_mint_permission(self, request) -> bool:
        return request.user.has_perm("members.mint_webhookendpoint")

    def has_rotate_permission(self, request) -> bool:
        return request.user.has_perm("members.rotate_webhookendpoint")

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("members.revoke_webhookendpoint")

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return fields if self.has_url_permission(request) else [f for f in fields if f != "url"]

    def changelist_view(self, request, extra_context=None):
        # This page replaces Django's changelist, so it makes Django's checks itself: the URLs
        # it lists grant access to offerings.
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST" and not self.has_mint_permission(request):
            raise PermissionDenied
        form = MintForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                endpoint = services.endpoint_mint_by_tag_name(**form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, " ".join(exc.messages))
            else:
                self.message_user(request, f"Minted: {endpoint}. Copy its URL below.")
                return redirect("admin:members_webhookendpoint_changelist")
        last = WebhookCall.objects.filter(endpoint=OuterRef("pk")).order_by("-received_at")
        endpoints = (
            WebhookEndpoint.objects.select_related("offering", "trigger_tag")
            .annotate(
                last_call_at=Subquery(last.values("received_at")[:1]),
                last_call_status=Subquery(last.values("status")[:1]),
                last_call_code=Subquery(last.values("http_status")[:1]),
            )
            .order_by("-id")
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Webhook Generator",
            "form": form,
            "endpoints": endpoints,
            "opts": self.model._meta,
            "may_see_urls": self.has_url_permission(request),
            "may_mint": self.has_mint_permission(request),
            "may_rotate": self.has_rotate_permission(request),
            "may_revoke": self.has_revoke_permission(request),
        }
        return TemplateResponse(request, "admin/members/webhook_generator.html", context)

    def rotate_view(self, request, pk):
        if not self.has_rotate_permission(request):
            raise PermissionDenied
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        if request.method == "POST":
            services.endpoint_rotate(endpoint=endpoint)
            self.message_user(request, f"Rotated {endpoint}: the old URL no longer works.")
        return redirect("admin:members_webhookendpoint_changelist")

    def revoke_view(self, request, pk):
        if not self.has_revoke_permission(request):
            raise PermissionDenied
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        if request.method == "POST":
            services.endpoint_revoke(endpoint=endpoint)
            self.message_user(
                request, f"Revoked {endpoint}: its URL now answers 410.", messages.WARNING
            )
        return redirect("admin:members_webhookendpoint_changelist")


@admin.register(WebhookCall)
class WebhookCallAdmin(LogAdminMixin, admin.ModelAdmin):
    """The call log: every inbound call with what it carried and what it did."""

    list_display = ["id", "received_at", "endpoint", "http_status", "status", "result", "error"]
    list_filter = ["status", "http_status"]
    search_fields = ["result", "error", "delivery_id"]
    list_select_related = ["endpoint__offering"]
    readonly_fields = [
        "endpoint",
        "subscriber",
        "received_at",
        "remote_addr",
        "path",
        "payload",
        "http_status",
        "status",
        "delivery_id",
        "result",
        "error",
        "finished_at",
    ]
    fields = readonly_fields
    actions = ["replay"]
    show_full_result_count = False

    @admin.action(description="Replay selected calls", permissions=["change"])
    def replay(self, request, queryset):
        replayed = 0
        for call in queryset:
            try:
                services.webhook_call_replay(call=call)
                replayed += 1
            except ValidationError as exc:
                self.message_user(
                    request, f"Call #{call.pk}: {' '.join(exc.messages)}", messages.WARNING
                )
        self.message_user(request, f"Replayed {replayed} call(s).")
