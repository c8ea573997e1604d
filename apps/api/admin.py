from django.contrib import admin

from . import services
from .models import ApiCredential


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
