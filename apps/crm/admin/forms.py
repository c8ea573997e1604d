"""Sign-up forms, purchases and Kit's outbound hooks."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from ..models import (
    Form,
    Hook,
    Purchase,
)
from .form_embed import FormEmbedMixin


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
