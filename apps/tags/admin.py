from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from apps.crm.admin import ReadOnlyInline, subscriber_admin_extend

from . import services
from .models import Tag, Tagging
from .tagmap import tag_map_csv, tag_map_groups, tag_map_rows


class TagForm(forms.ModelForm):
    class Meta:
        model = Tag
        fields = ["name"]

    def clean_name(self):
        try:
            cleaned = services.tag_name_clean(self.cleaned_data["name"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        clash = Tag.objects.filter(name_key=cleaned.casefold()).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(
                f"A tag named {clash.first().name!r} already exists (names ignore case "
                "and extra spaces)."
            )
        return cleaned


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    form = TagForm
    list_display = ["name", "subscriber_count", "created_at"]
    search_fields = ["name"]
    list_per_page = 200
    change_list_template = "admin/tags/tag/change_list.html"

    def get_urls(self):
        custom = [
            path("map/", self.admin_site.admin_view(self.map_view), name="tags_tag_map"),
            path("map.csv", self.admin_site.admin_view(self.map_csv_view), name="tags_tag_map_csv"),
        ]
        return custom + super().get_urls()

    def map_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = tag_map_rows()
        context = {
            **self.admin_site.each_context(request),
            "title": "Tag map",
            "is_nav_sidebar_enabled": False,  # the map needs the width
            "opts": self.model._meta,
            "groups": tag_map_groups(rows),
            "tag_count": len(rows),
            "warning_count": sum(1 for row in rows if row.warnings),
        }
        return TemplateResponse(request, "admin/tags/tag_map.html", context)

    def map_csv_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        response = HttpResponse(tag_map_csv(tag_map_rows()), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="tag-map.csv"'
        return response

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(subscriber_count=Count("taggings"))

    @admin.display(description="Subscribers", ordering="subscriber_count")
    def subscriber_count(self, obj):
        return obj.subscriber_count

    def save_model(self, request, obj, form, change):
        if change:
            services.tag_rename(tag=obj, name=form.cleaned_data["name"])
        else:
            created = services.tag_create(name=form.cleaned_data["name"])
            obj.pk = created.pk

    def delete_model(self, request, obj):
        self.delete_queryset(request, [obj])

    def delete_queryset(self, request, queryset):
        for tag in queryset:
            try:
                services.tag_delete(tag=tag, source="admin")
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)


class TaggingInline(ReadOnlyInline):
    model = Tagging
    fields = ["tag", "created_at", "source"]
    verbose_name_plural = "Tags"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tag")


class TagListFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in Tag.objects.values_list("pk", "name")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(taggings__tag_id=self.value())
        return queryset


class TagActionForm(ActionForm):
    tag = forms.ModelChoiceField(queryset=Tag.objects.all(), required=False, label="Tag")


def _selected_tag(modeladmin, request):
    # Only the tag field: the admin fills the action choices itself, per request.
    try:
        tag = TagActionForm.base_fields["tag"].clean(request.POST.get("tag"))
    except forms.ValidationError:
        tag = None
    if tag is None:
        modeladmin.message_user(request, "Choose a tag beside the action first.", messages.ERROR)
    return tag


@admin.action(description="Add the chosen tag to selected subscribers", permissions=["change"])
def add_tag(modeladmin, request, queryset):
    tag = _selected_tag(modeladmin, request)
    if tag:
        ids = list(queryset.values_list("pk", flat=True))
        added = services.tag_bulk_add(tag=tag, subscriber_ids=ids, source="admin")
        modeladmin.message_user(request, f"Tagged {added} subscriber(s) with {tag.name!r}.")


@admin.action(description="Remove the chosen tag from selected subscribers", permissions=["change"])
def remove_tag(modeladmin, request, queryset):
    tag = _selected_tag(modeladmin, request)
    if tag:
        ids = list(queryset.values_list("pk", flat=True))
        removed = services.tag_bulk_remove(tag=tag, subscriber_ids=ids, source="admin")
        modeladmin.message_user(request, f"Removed {tag.name!r} from {removed} subscriber(s).")


subscriber_admin_extend(
    inlines=[TaggingInline],
    actions=[add_tag, remove_tag],
    list_filter=[TagListFilter],
    action_form=TagActionForm,
)
