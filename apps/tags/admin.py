import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from apps.crm.admin import ReadOnlyInline, subscriber_admin_extend
from apps.crm.models import Form, Hook, Subscriber

from . import services
from .models import Segment, Tag, Tagging
from .selectors import tags_suggest
from .tagmap import tag_map_csv, tag_map_groups, tag_map_rows
from .widgets import TagNameField, TagNameInput

TAG_LIST_SEPARATORS = re.compile(r"[,;]")


class TagForm(forms.ModelForm):
    class Meta:
        model = Tag
        fields = ["name"]
        widgets = {"name": TagNameInput}

    def clean_name(self):
        try:
            cleaned = services.tag_name_clean(self.cleaned_data["name"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        clash = Tag.objects.filter(name_key=services.tag_name_fold(cleaned)).exclude(
            pk=self.instance.pk
        )
        if clash.exists():
            raise forms.ValidationError(
                f"A tag named {clash.first().name!r} already exists (names ignore case, "
                "extra spaces and the kind of dash)."
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
        tag_view = self.admin_site.admin_view(require_POST(self.subscriber_tag_view))
        custom = [
            path(
                "suggest/", self.admin_site.admin_view(self.suggest_view), name="tags_tag_suggest"
            ),
            path("subscriber/<int:subscriber_id>/add/", tag_view, name="tags_subscriber_tag_add"),
            path(
                "subscriber/<int:subscriber_id>/remove/<int:tag_id>/",
                tag_view,
                name="tags_subscriber_tag_remove",
            ),
            path("map/", self.admin_site.admin_view(self.map_view), name="tags_tag_map"),
            path("map.csv", self.admin_site.admin_view(self.map_csv_view), name="tags_tag_map_csv"),
        ]
        return custom + super().get_urls()

    def subscriber_tag_view(self, request, subscriber_id: int, tag_id: int | None = None):
        """The subscriber page's tags box: add the tag typed (made if new) or remove one,
        through the tag services (events written, automations triggered)."""
        subscriber_admin = self.admin_site._registry[Subscriber]
        subscriber = subscriber_admin.subscriber_for_change(request, subscriber_id)
        if tag_id is not None:
            tag = get_object_or_404(Tag, pk=tag_id)
            removed = services.subscriber_tag_remove(subscriber=subscriber, tag=tag, source="admin")
            self.message_user(
                request, f"Removed {tag.name!r}." if removed else f"{tag.name!r} was not on them."
            )
            return redirect("admin:crm_subscriber_change", subscriber.pk)
        try:
            name = TagNameField(required=True).clean(request.POST.get("name", ""))
        except forms.ValidationError as exc:
            self.message_user(request, "Tag: " + " ".join(exc.messages), messages.ERROR)
            return redirect("admin:crm_subscriber_change", subscriber.pk)
        exists = Tag.objects.filter(name_key=services.tag_name_key(name)).exists()
        if not exists and not self.has_add_permission(request):
            self.message_user(
                request,
                f"No tag is named {name!r}, and making tags needs the right to add tags.",
                messages.ERROR,
            )
            return redirect("admin:crm_subscriber_change", subscriber.pk)
        tag, created, added = services.subscriber_tag_add_by_name(
            subscriber=subscriber, name=name, source="admin"
        )
        made = " (a new tag)" if created else ""
        self.message_user(
            request, f"Added {tag.name!r}{made}." if added else f"They already had {tag.name!r}."
        )
        return redirect("admin:crm_subscriber_change", subscriber.pk)

    def suggest_view(self, request):
        """Tag name inputs ask here as a name is typed: the tags it matches, and whether it
        names one exactly (if not, the input says a new tag will be created)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        found, exact = tags_suggest(text=request.GET.get("q", "")[: services.TAG_NAME_MAX])
        return JsonResponse(
            {
                "results": [{"id": tag.pk, "name": tag.name} for tag in found],
                "match": exact.name if exact else None,
            }
        )

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

    def get_search_results(self, request, queryset, search_term):
        # The list's search and every autocomplete over tags (a lesson's completion tag, an
        # automation's entry tag) fold case, spacing and dashes as tag names do.
        key = services.tag_name_fold(search_term or "")
        if not key:
            return queryset, False
        return queryset.filter(name_key__contains=key).order_by("name_key"), False

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
    tag = TagNameField(
        required=False,
        label="Tag",
        widget=TagNameInput({"size": 28, "placeholder": "Tag name", "aria-label": "Tag"}),
    )


def _selected_tag(modeladmin, request, *, create: bool) -> Tag | None:
    # Only the tag field: the admin fills the action choices itself, per request.
    try:
        name = TagActionForm.base_fields["tag"].clean(request.POST.get("tag"))
    except forms.ValidationError as exc:
        modeladmin.message_user(request, " ".join(exc.messages), messages.ERROR)
        return None
    if not name:
        modeladmin.message_user(request, "Type a tag name beside the action first.", messages.ERROR)
        return None
    if create:
        return services.tag_get_or_create(name=name)[0]
    tag = Tag.objects.filter(name_key=services.tag_name_key(name)).first()
    if tag is None:
        modeladmin.message_user(
            request, f"No tag is named {name!r}; nothing was removed.", messages.ERROR
        )
    return tag


@admin.action(description="Add the tag typed to selected subscribers", permissions=["change"])
def add_tag(modeladmin, request, queryset):
    tag = _selected_tag(modeladmin, request, create=True)
    if tag:
        ids = list(queryset.values_list("pk", flat=True))
        added = services.tag_bulk_add(tag=tag, subscriber_ids=ids, source="admin")
        modeladmin.message_user(request, f"Tagged {added} subscriber(s) with {tag.name!r}.")


@admin.action(description="Remove the tag typed from selected subscribers", permissions=["change"])
def remove_tag(modeladmin, request, queryset):
    tag = _selected_tag(modeladmin, request, create=False)
    if tag:
        ids = list(queryset.values_list("pk", flat=True))
        removed = services.tag_bulk_remove(tag=tag, subscriber_ids=ids, source="admin")
        modeladmin.message_user(request, f"Removed {tag.name!r} from {removed} subscriber(s).")


def _names_of(tag_ids) -> str:
    names = dict(Tag.objects.filter(pk__in=tag_ids or []).values_list("pk", "name"))
    return ", ".join(names[int(pk)] for pk in tag_ids or [] if int(pk) in names)


class FormTagsForm(forms.ModelForm):
    """crm's sign-up form, with its tags typed by name (suggested as typed) instead of a
    JSON list of ids."""

    tags = forms.CharField(
        required=False,
        max_length=2000,
        widget=TagNameInput(many=True),
        help_text="Tags added to everyone who subscribes through this form, separated by "
        "commas. A new name creates the tag.",
    )

    class Meta:
        model = Form
        fields = [
            "name",
            "kind",
            "title",
            "description",
            "sign_up_button_text",
            "success_message",
            "double_opt_in",
            "tags",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tags"].initial = _names_of(self.instance.tag_ids)

    def clean_tags(self) -> list[str]:
        try:
            return [
                services.tag_name_clean(name)
                for name in TAG_LIST_SEPARATORS.split(self.cleaned_data["tags"] or "")
                if name.strip()
            ]
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None


class HookTagForm(forms.ModelForm):
    """A Kit hook's tag filter typed by name (an existing tag) instead of an id."""

    tag = TagNameField(
        existing=True,
        required=False,
        label="Tag",
        help_text="For tag events: the tag whose adding or removing sends the hook.",
    )

    class Meta:
        model = Hook
        fields = [
            "event_name",
            "tag",
            "form_id",
            "sequence_id",
            "product_id",
            "custom_field_id",
            "initiator_value",
            "target_url",
            "active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tag"].widget.attrs["data-tag-new"] = "no"
        self.fields["tag"].initial = _names_of(
            [self.instance.tag_id] if self.instance.tag_id else []
        )

    def clean(self):
        cleaned = super().clean()
        if "tag" in cleaned:  # an existing tag (or none): nothing to write but the hook
            tag = cleaned["tag"]
            self.instance.tag_id = tag.pk if tag else None
        return cleaned


class FormTagsAdmin(type(admin.site._registry[Form])):
    """crm's form page with the tags typed by name: saved by a service that makes the new
    tags and the form in one transaction."""

    form = FormTagsForm

    def save_model(self, request, obj, form, change):
        services.form_tags_save(form=obj, tag_names=form.cleaned_data["tags"])


admin.site.unregister(Form)
admin.site.register(Form, FormTagsAdmin)
admin.site._registry[Hook].form = HookTagForm


def _tags_tool(request, subscriber) -> dict:
    return {
        "template": "admin/tags/subscriber_tool_tags.html",
        "forms": [
            (
                "subscriber-tag-add-form",
                reverse("admin:tags_subscriber_tag_add", args=[subscriber.pk]),
            ),
            ("subscriber-tag-remove-form", ""),  # each tag's button names its own action
        ],
        "taggings": subscriber.taggings.select_related("tag").order_by("tag__name_key"),
        "input": TagNameInput().render(
            "name",
            "",
            {
                "id": "subscriber-tag-name",
                "form": "subscriber-tag-add-form",
                "placeholder": "Type a tag name",
                "aria-label": "Tag to add",
            },
        ),
        "media": TagNameInput().media,
    }


subscriber_admin_extend(
    tools=(_tags_tool,),
    inlines=[TaggingInline],
    actions=[add_tag, remove_tag],
    list_filter=[TagListFilter],
    action_form=TagActionForm,
)


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "condition"]
        help_texts = {
            "condition": 'A tag condition, e.g. {"and": [{"has": 3}, {"has_not": 7}]}.',
        }

    def clean_condition(self):
        from .conditions import ConditionError, condition_validate

        condition = self.cleaned_data["condition"]
        try:
            condition_validate(condition)
        except ConditionError as exc:
            raise ValidationError(str(exc)) from None
        return condition


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    """Saved audiences: a tag condition (the same JSON automations and broadcasts use),
    computed when read; Kit's v4 API lists them."""

    form = SegmentForm
    list_display = ["name", "people", "created_at"]

    @admin.display(description="people now")
    def people(self, obj):
        from .conditions import subscribers_matching

        return subscribers_matching(obj.condition).count()
