from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from . import services
from .job_leases import jobs_dispatch_on_commit
from .kit_import import kit_import_create, kit_import_summary
from .models import ApiCredential, ApiKey, KitImport


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


class KitImportForm(forms.ModelForm):
    api_key = forms.CharField(
        label="Kit v4 API key",
        widget=forms.PasswordInput,
        help_text="In Kit: Settings > Developer > API keys (a v4 key). Kept until the import "
        "is done, then forgotten.",
    )

    class Meta:
        model = KitImport
        fields = ["base_url", "api_key"]


@admin.register(KitImport)
class KitImportAdmin(admin.ModelAdmin):
    """Moving in from Kit: start an import (a worker runs it), then watch it here: stage,
    counts, each record that could not be imported and why, webhooks to re-create."""

    form = KitImportForm
    change_form_template = "admin/api/kitimport/change_form.html"
    list_display = ["__str__", "status", "stage", "created_at", "finished_at"]
    readonly_fields = ["status", "stage", "progress", "not_imported", "error", "finished_at"]

    def get_fields(self, request, obj=None):
        return ["base_url", "api_key"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def has_add_permission(self, request):
        # An import creates and changes subscribers, so it needs those rights as well.
        return request.user.has_perms(
            ["api.add_kitimport", "crm.add_subscriber", "crm.change_subscriber"]
        )

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description="progress")
    def progress(self, obj):
        lines = kit_import_summary(obj) or ["Waiting for a worker to start it."]
        return format_html_join("", "<div>{}</div>", ((line,) for line in lines))

    @admin.display(description="not imported")
    def not_imported(self, obj):
        if not obj.failures:
            return "None"
        return format_html_join(
            "",
            "<div>{}: {} ({})</div>",
            ((f["stage"], f["record"], f["reason"]) for f in obj.failures),
        )

    def save_model(self, request, obj, form, change):
        created = kit_import_create(api_key=obj.api_key, base_url=obj.base_url)
        for field in KitImport._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        jobs_dispatch_on_commit()


# django-oauth-toolkit's own admin pages are left out: apps are registered and deleted (which
# revokes their tokens) at /oauth/applications/, by staff.
def _oauth_admin_unregister() -> None:
    from oauth2_provider.models import (
        get_access_token_model,
        get_application_model,
        get_grant_model,
        get_id_token_model,
        get_refresh_token_model,
    )

    for get_model in (
        get_application_model,
        get_access_token_model,
        get_refresh_token_model,
        get_grant_model,
        get_id_token_model,
    ):
        model = get_model()
        if admin.site.is_registered(model):
            admin.site.unregister(model)


_oauth_admin_unregister()
