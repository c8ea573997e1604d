"""The automations admin, with the visual builder on each automation's page: the one editor
of a flow's entry and steps (its JSON travels by export / import, not by a second editor).

Every write goes through the services: steps are validated per kind, deleting a step moves
the runs waiting at it, and status changes release queued runs."""

from django.contrib import admin, messages
from django.db.models import Prefetch
from django.urls import path, reverse
from django.utils.html import format_html

from apps.crm.admin import LogAdminMixin, ReadOnlyInline, subscriber_admin_extend

from . import builder_views, services
from .engine import engine_health, runs_exit, runs_retry
from .models import ACTIVE_RUN_STATUSES, Automation, Run, RunStep
from .selectors import automations_with_counts

RUN_COUNTS = ("entered", "active", "completed", "exited", "failed")


def _count_column(name: str):
    """A list column for one of ``automations_with_counts``' annotations."""

    @admin.display(description=name, ordering=name)
    def column(self, obj):
        return getattr(obj, name)

    column.__name__ = name
    return column


@admin.register(Automation)
class AutomationAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "reentry", *RUN_COUNTS]
    list_filter = ["status"]
    search_fields = ["name"]
    fields = ["name", "status", "reentry", "wait_warn_days", "description"]
    change_list_template = "admin/automations/automation/change_list.html"
    change_form_template = "admin/automations/automation/change_form.html"

    def get_queryset(self, request):
        return automations_with_counts()

    def has_delete_permission(self, request, obj=None):
        # Deleting would strand the people in it: pause it and exit their runs first.
        if (
            obj is not None
            and Run.objects.filter(automation=obj, status__in=ACTIVE_RUN_STATUSES).exists()
        ):
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        services.automation_delete(automation=obj)

    def delete_queryset(self, request, queryset):
        for automation, exc in services.automations_delete(automations=queryset):
            self.message_user(request, f"{automation}: {' '.join(exc.messages)}", messages.ERROR)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "engine_health": engine_health()}
        return super().changelist_view(request, extra_context)

    def get_fields(self, request, obj=None):
        # On an existing automation, status and re-entry live in the builder.
        return ["name", "description"] if obj else self.fields

    def change_view(self, request, object_id, form_url="", extra_context=None):
        automation = self.get_object(request, object_id)
        if automation is not None and self.has_view_permission(request, automation):
            extra_context = {
                **(extra_context or {}),
                "builder": builder_views.builder_render(request, automation),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        def wrap(view):
            def bound(request, *args, **kwargs):
                return view(request, self, *args, **kwargs)

            return self.admin_site.admin_view(bound)

        b = "<int:automation_id>/builder/"
        return [
            path(b, wrap(builder_views.builder_view), name="automations_automation_builder"),
            path(f"{b}new/", wrap(builder_views.node_new_view), name="automations_builder_new"),
            path(f"{b}add/", wrap(builder_views.node_add_view), name="automations_builder_add"),
            path(
                f"{b}node/<int:node_id>/edit/",
                wrap(builder_views.node_edit_view),
                name="automations_builder_edit",
            ),
            path(
                f"{b}node/<int:node_id>/delete/",
                wrap(builder_views.node_delete_view),
                name="automations_builder_delete",
            ),
            path(
                f"{b}entry/add/",
                wrap(builder_views.trigger_add_view),
                name="automations_builder_trigger_add",
            ),
            path(
                f"{b}entry/<int:trigger_id>/delete/",
                wrap(builder_views.trigger_delete_view),
                name="automations_builder_trigger_delete",
            ),
            path(f"{b}status/", wrap(builder_views.status_view), name="automations_builder_status"),
            path(
                f"{b}run/<int:run_id>/skip-wait/",
                wrap(builder_views.skip_wait_view),
                name="automations_builder_skip_wait",
            ),
            path(
                "from-template/",
                wrap(builder_views.template_view),
                name="automations_automation_template",
            ),
            *super().get_urls(),
        ]

    def save_model(self, request, obj, form, change):
        if not change:
            # The status chosen on the add form, through the service (a new automation has
            # no entry yet, so a live one simply waits for its first trigger).
            created = services.automation_create(
                name=obj.name,
                status=obj.status,
                reentry=obj.reentry,
                description=obj.description,
                wait_warn_days=obj.wait_warn_days,
            )
            obj.pk, obj.created_at = created.pk, created.created_at
            return
        current = Automation.objects.get(pk=obj.pk)
        services.automation_change(
            automation=current,
            status=obj.status if obj.status != current.status else "",
            name=obj.name,
            reentry=obj.reentry,
            description=obj.description,
            wait_warn_days=obj.wait_warn_days,
        )

    def save_related(self, request, form, formsets, change):
        # No inlines: the entry and the steps are edited in the builder, one service a change.
        pass


for _name in RUN_COUNTS:
    setattr(AutomationAdmin, _name, _count_column(_name))


class RunStepInline(ReadOnlyInline):
    model = RunStep
    fields = ["node_label", "node_kind", "outcome", "branch", "arrived_at", "at", "detail", "error"]
    verbose_name_plural = "Step log (the path this run took)"


@admin.register(Run)
class RunAdmin(LogAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "automation",
        "subscriber",
        "entry_number",
        "status",
        "current_node",
        "resume_at",
        "started_at",
    ]
    list_filter = ["status", "automation"]
    search_fields = ["subscriber__email", "automation__name"]
    list_select_related = ["automation", "subscriber", "current_node"]
    readonly_fields = [
        "automation",
        "subscriber",
        "entry_number",
        "status",
        "current_node",
        "arrived",
        "resume_at",
        "locked_until",
        "attempts",
        "last_error",
        "chain_depth",
        "started_at",
        "finished_at",
    ]
    fields = readonly_fields
    inlines = [RunStepInline]
    actions = ["exit_runs", "retry_runs"]
    show_full_result_count = False
    list_per_page = 100

    @admin.action(description="Exit selected runs", permissions=["change"])
    def exit_runs(self, request, queryset):
        exited = runs_exit(
            run_ids=queryset.values_list("pk", flat=True), reason=f"exited by {request.user}"
        )
        self.message_user(request, f"Exited {exited} run(s).")

    @admin.action(description="Retry selected failed runs", permissions=["change"])
    def retry_runs(self, request, queryset):
        retried = runs_retry(run_ids=queryset.values_list("pk", flat=True))
        level = messages.SUCCESS if retried else messages.WARNING
        self.message_user(request, f"Retried {retried} failed run(s).", level)


class SubscriberRunInline(ReadOnlyInline):
    model = Run
    fields = ["run_link", "automation", "status", "path_taken", "current_node", "resume_at"]
    verbose_name_plural = "Automation runs"

    def get_queryset(self, request):
        steps = RunStep.objects.order_by("seq").only("run_id", "seq", "node_label", "branch")
        return (
            super()
            .get_queryset(request)
            .select_related("automation", "current_node", "subscriber")
            .prefetch_related(Prefetch("steps", queryset=steps))
        )

    @admin.display(description="path taken")
    def path_taken(self, obj):
        return (
            " → ".join(
                f"{step.node_label} ({step.branch})" if step.branch else step.node_label
                for step in obj.steps.all()
            )
            or "—"
        )

    @admin.display(description="run")
    def run_link(self, obj):
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:automations_run_change", args=[obj.pk]), obj.pk
        )


subscriber_admin_extend(inlines=[SubscriberRunInline])
