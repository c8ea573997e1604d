from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from js_asset.media import Media as AssetMedia

from apps.crm.admin import ReadOnlyInline, subscriber_admin_extend

from . import services
from .content import video_url_check
from .lessons import lesson_save, lesson_slug_unique
from .models import AccessGrant, Lesson, LessonAttachment, Module, ModuleRelease, Offering
from .services.catalog import OFFERING_EDITABLE_FIELDS


class ModuleInline(admin.TabularInline):
    model = Module
    fields = ["position", "title", "release_rule", "release_days", "release_date", "access_tag"]
    readonly_fields = ["access_tag"]
    extra = 0
    show_change_link = True


@admin.register(Offering)
class OfferingAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "store_password", "created_at"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    fields = [
        *OFFERING_EDITABLE_FIELDS,
        "base_tag",
        "instant_tag",
        "revoke_tag",
        "purchase_tag",
    ]
    readonly_fields = ["base_tag", "instant_tag", "revoke_tag", "purchase_tag"]
    inlines = [ModuleInline]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Adds the tags a "Preview as a member" can choose: the offering's own, in order."""
        offering = self.get_object(request, object_id)
        tags = []
        if offering is not None:
            modules = list(offering.modules.select_related("access_tag").order_by("position"))
            tags = [offering.base_tag, offering.instant_tag]
            tags += [m.access_tag for m in modules] + [offering.revoke_tag]
        extra_context = (extra_context or {}) | {"preview_tags": tags}
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if change:
            services.offering_update(offering=obj)
            return
        created = services.offering_create(
            name=obj.name,
            kind=obj.kind,
            description=obj.description,
            store_password=obj.store_password,
            password_field_key=obj.password_field_key,
            slug=obj.slug,
            image=obj.image,
            progression=obj.progression,
        )
        obj.pk = created.pk

    def save_formset(self, request, form, formset, change):
        _formset_instances(formset)
        changed = [
            sub for sub in formset.forms if sub.has_changed() and sub not in formset.deleted_forms
        ]
        services.modules_edit(
            offering=form.instance,
            deleted=formset.deleted_objects,
            changed=[(sub.instance, sub.cleaned_data) for sub in changed],
        )


def _formset_instances(formset) -> list:
    """The formset's changed and new rows as unsaved instances: ``formset.save(commit=False)``
    without its m2m hook (these inlines have no m2m), which writes nothing (the services do).
    It also sets ``deleted_objects``, ``changed_objects`` and ``new_objects``, which the
    admin's history message reads."""
    formset.saved_forms = []
    return formset.save_existing_objects(commit=False) + formset.save_new_objects(commit=False)


class LessonInline(admin.TabularInline):
    """Titles and order here; the body, video and files on the lesson's own page."""

    model = Lesson
    fields = ["position", "title", "slug"]
    extra = 0
    show_change_link = True


@admin.register(Module)
class ModuleAdmin(admin.ModelAdmin):
    list_display = ["title", "offering", "position", "release_rule", "release_days"]
    list_filter = ["offering"]
    list_select_related = ["offering"]
    inlines = [LessonInline]
    readonly_fields = ["access_tag"]

    def save_formset(self, request, form, formset, change):
        lessons = _formset_instances(formset)
        results = services.lessons_edit(
            module=form.instance, deleted=formset.deleted_objects, lessons=lessons
        )
        for lesson, outcome in results:
            if isinstance(outcome, ValidationError):
                messages.error(request, f"{lesson.title}: {' '.join(outcome.messages)}")
            else:
                _warn_removed(request, lesson, outcome)


def _warn_removed(request, lesson: Lesson, removed: list[str]) -> None:
    if removed:
        messages.warning(
            request,
            f"“{lesson.title}”: the cleaner removed what lessons may not contain: "
            f"{', '.join(removed)}. Embedded players may come from "
            f"{', '.join(settings.LESSON_IFRAME_HOSTS)} (setting LESSON_IFRAME_HOSTS); "
            "scripts never run in lessons.",
        )


class _StaffFile:
    """A stored file as the admin's file input shows it, linked to the staff download (the
    storage's own URL is deliberately not served)."""

    def __init__(self, file, url: str):
        self.file, self.url = file, url

    def __str__(self) -> str:
        return self.file.name


class StaffDownloadInput(forms.ClearableFileInput):
    download_url = ""

    def format_value(self, value):
        if self.is_initial(value) and self.download_url:
            return _StaffFile(value, self.download_url)
        return super().format_value(value)


class AttachmentForm(forms.ModelForm):
    class Meta:
        model = LessonAttachment
        fields = ["position", "title", "file"]
        widgets = {"file": StaffDownloadInput}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["file"].widget.download_url = reverse(
                "admin:offerings_lesson_attachment", args=[self.instance.pk]
            )

    def clean_file(self):
        file = self.cleaned_data.get("file")
        limit = settings.FILE_UPLOAD_MAX_BYTES
        if file is not None and file.size > limit:
            raise ValidationError(
                f"{file.name} is {file.size} bytes; files may be up to {limit} bytes "
                "(setting FILE_UPLOAD_MAX_BYTES)."
            )
        return file


class AttachmentInline(admin.TabularInline):
    model = LessonAttachment
    form = AttachmentForm
    fields = ["position", "title", "file"]
    extra = 1


class LessonForm(forms.ModelForm):
    video_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=Lesson._meta.get_field("video_url").help_text,
    )

    class Meta:
        model = Lesson
        fields = ["module", "position", "title", "slug", "video_url", "body", "completion_tag"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A view-only user's form has no editable fields at all.
        if "position" in self.fields:
            self.fields["position"].required = False
            self.fields["position"].help_text = "Empty: after the module's last lesson."

    def clean_position(self):
        return self.cleaned_data.get("position") or 0

    def clean_video_url(self):
        url = self.cleaned_data.get("video_url", "").strip()
        video_url_check(url)
        return url

    def clean(self):
        data = super().clean()
        module = data.get("module")
        if module is not None and data.get("title"):
            try:
                data["slug"] = lesson_slug_unique(
                    offering_id=module.offering_id,
                    title=data["title"],
                    slug=data.get("slug", ""),
                    lesson_id=self.instance.pk,
                )
            except ValidationError as exc:
                self.add_error("slug", exc)
        return data


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    form = LessonForm
    list_display = ["title", "module", "slug", "position"]
    list_filter = ["offering"]
    list_select_related = ["module__offering"]
    search_fields = ["title", "slug"]
    autocomplete_fields = ["completion_tag"]
    inlines = [AttachmentInline]
    prepopulated_fields = {"slug": ["title"]}

    def render_change_form(self, request, context, *args, **kwargs):
        # The editor's import map is an inline <script>: under the Content-Security-Policy it
        # runs only with the page's nonce.
        context["media"] = AssetMedia.from_media(context["media"], nonce=str(request.csp_nonce))
        return super().render_change_form(request, context, *args, **kwargs)

    def save_model(self, request, obj, form, change):
        _warn_removed(request, obj, lesson_save(lesson=obj, module=obj.module))

    def get_urls(self):
        download = self.admin_site.admin_view(self.attachment_view)
        return [
            path("attachments/<int:pk>/", download, name="offerings_lesson_attachment"),
            *super().get_urls(),
        ]

    def attachment_view(self, request, pk):
        """Staff download a lesson's file here, through the app like members do."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        attachment = get_object_or_404(LessonAttachment, pk=pk)
        return FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.file.name.rsplit("/", 1)[-1],
        )


class ReleaseInline(ReadOnlyInline):
    model = ModuleRelease
    fields = ["module", "released_at", "source"]


@admin.register(AccessGrant)
class AccessGrantAdmin(admin.ModelAdmin):
    list_display = [
        "subscriber",
        "offering",
        "granted_at",
        "revoked_at",
        "next_release_at",
        "source",
    ]
    list_filter = ["offering", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["subscriber__email"]
    list_select_related = ["subscriber", "offering"]
    readonly_fields = [
        "subscriber",
        "offering",
        "granted_at",
        "revoked_at",
        "next_release_at",
        "source",
    ]
    inlines = [ReleaseInline]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke access", permissions=["change"])
    def revoke(self, request, queryset):
        done = sum(
            services.offering_revoke(
                subscriber=g.subscriber, offering=g.offering, source=f"admin:{request.user.pk}"
            )
            for g in queryset.select_related("subscriber", "offering")
        )
        self.message_user(request, f"Revoked {done} grant(s).")


class SubscriberGrantInline(ReadOnlyInline):
    model = AccessGrant
    fields = ["offering", "granted_at", "revoked_at", "next_release_at"]
    verbose_name_plural = "Access"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("offering")


subscriber_admin_extend(inlines=[SubscriberGrantInline])
