from django.contrib import admin

from apps.crm.admin import ReadOnlyInline, subscriber_admin_extend

from . import services
from .models import AccessGrant, Lesson, Module, ModuleRelease, Offering


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
        "name",
        "slug",
        "kind",
        "description",
        "store_password",
        "password_field_key",
        "base_tag",
        "instant_tag",
        "revoke_tag",
        "purchase_tag",
    ]
    readonly_fields = ["base_tag", "instant_tag", "revoke_tag", "purchase_tag"]
    inlines = [ModuleInline]

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(
                update_fields=[
                    "name",
                    "slug",
                    "kind",
                    "description",
                    "store_password",
                    "password_field_key",
                ]
            )
            return
        created = services.offering_create(
            name=obj.name,
            kind=obj.kind,
            description=obj.description,
            store_password=obj.store_password,
            password_field_key=obj.password_field_key,
            slug=obj.slug,
        )
        obj.pk = created.pk

    def save_formset(self, request, form, formset, change):
        formset.save(commit=False)
        for obj in formset.deleted_objects:
            obj.delete()
        for sub in formset.forms:
            if not sub.has_changed() or sub in formset.deleted_forms:
                continue
            data = sub.cleaned_data
            if sub.instance.pk:
                services.module_set_rule(
                    module=sub.instance,
                    title=data["title"],
                    release_rule=data["release_rule"],
                    release_days=data["release_days"],
                    release_date=data["release_date"],
                )
            else:
                services.module_add(
                    offering=form.instance,
                    title=data["title"],
                    release_rule=data["release_rule"],
                    release_days=data["release_days"],
                    release_date=data["release_date"],
                )


class LessonInline(admin.StackedInline):
    model = Lesson
    fields = ["position", "title", "slug", "body", "completion_tag"]
    extra = 0
    autocomplete_fields = ["completion_tag"]


@admin.register(Module)
class ModuleAdmin(admin.ModelAdmin):
    list_display = ["title", "offering", "position", "release_rule", "release_days"]
    list_filter = ["offering"]
    list_select_related = ["offering"]
    inlines = [LessonInline]
    readonly_fields = ["access_tag"]

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            obj.delete()
        for lesson in instances:
            lesson.body = services.lesson_body_clean(lesson.body)
            lesson.save()


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
