from django.contrib import admin, messages
from django.utils.html import format_html

from . import services
from .models import ApiCredential, ApiKey


@admin.register(ApiCredential)
class ApiCredentialAdmin(admin.ModelAdmin):
    """The Kit v3 key and secret, shown to staff who may change them, and regenerated here."""

    list_display = ["__str__", "created_at", "rotated_at"]
    readonly_fields = ["api_key", "api_secret", "created_at", "rotated_at"]
    actions = ["regenerate"]

    def has_add_permission(self, request):
        return False

    def changelist_view(self, request, extra_context=None):
        services.api_credentials_get()
        return super().changelist_view(request, extra_context)

    @admin.action(description="Regenerate the key and secret", permissions=["change"])
    def regenerate(self, request, queryset):
        services.api_credentials_regenerate()
        self.message_user(request, "New key and secret: integrations must use them from now.")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Kit v4 keys: several, each named for the integration that uses it. A key is shown once,
    in the message after it is made (only its hash is kept); revoking stops it at once."""

    list_display = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    fields = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "name"] if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row keeps the record of what was issued

    def save_model(self, request, obj, form, change):
        if change:
            return
        created, raw = services.api_key_create(name=obj.name)
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        self.message_user(
            request,
            format_html(
                "The key for {}: <code>{}</code> Copy it now: it is not stored and is not "
                "shown again. Send it in the X-Kit-Api-Key header.",
                created.name,
                raw,
            ),
            level=messages.WARNING,
        )

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(key=key)
        self.message_user(request, "Revoked: integrations using those keys now get 401.")
