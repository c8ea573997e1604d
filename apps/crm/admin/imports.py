"""The CSV import pages: upload, check the mapping, follow the progress, read the summary.

The "add" page of Subscriber imports is the upload; an import's own page is its preview
(before it starts), its progress bar (while a worker runs it) and its summary (after).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from ..imports import parsing, services
from ..models import ImportStatus, SubscriberImport

IMPORT_ERRORS_SHOWN = 200
STATUS_POLL_MS = 400


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8, at most {parsing.IMPORT_FILE_MAX_BYTES // 1024 // 1024} MB. The first "
        "line names the columns; one of them must hold the email address.",
    )
    tags = forms.CharField(
        label="Tag everyone with",
        required=False,
        max_length=1000,
        help_text="Optional: tag names separated by ; or , added to every imported subscriber.",
        # The admin's tag name input (static/tags/tag_input.js; the page gives its URL).
        widget=forms.TextInput(attrs={"data-tag-input": "many", "size": 60}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > parsing.IMPORT_FILE_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1024 / 1024:.1f} MB; at most "
                f"{parsing.IMPORT_FILE_MAX_BYTES // 1024 // 1024} MB can be imported at once."
            )
        return upload


@admin.register(SubscriberImport)
class SubscriberImportAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "created_at",
        "created_count",
        "updated_count",
        "tagged_count",
        "error_count",
        "created_by",
    ]
    list_filter = ["status"]
    list_select_related = ["created_by"]
    show_full_result_count = False

    def has_add_permission(self, request):
        # An import creates and changes subscribers, so it needs both rights as well.
        return request.user.has_perms(
            ["crm.add_subscriberimport", "crm.add_subscriber", "crm.change_subscriber"]
        )

    def has_change_permission(self, request, obj=None):
        return self.has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        busy = obj is not None and obj.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)
        return not busy and super().has_delete_permission(request, obj)

    def get_urls(self):
        return [
            path(
                "<int:pk>/status/",
                self.admin_site.admin_view(self.status_view),
                name="crm_subscriberimport_status",
            ),
            *super().get_urls(),
        ]

    def _render(self, request, template: str, context: dict) -> TemplateResponse:
        return TemplateResponse(
            request,
            f"admin/crm/import/{template}",
            {**self.admin_site.each_context(request), "opts": self.model._meta, **context},
        )

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                imp = services.subscriber_import_create(
                    data=upload.read(),
                    filename=upload.name,
                    tags=parsing.TAG_SEPARATORS.split(form.cleaned_data["tags"]),
                    created_by=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, " ".join(exc.messages))
            else:
                return redirect("admin:crm_subscriberimport_change", imp.pk)
        return self._render(request, "upload.html", {"title": "Import subscribers", "form": form})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        imp = get_object_or_404(SubscriberImport, pk=object_id)
        if not self.has_view_permission(request, imp):
            raise PermissionDenied
        if request.method == "POST":
            if not self.has_change_permission(request, imp):
                raise PermissionDenied
            return self._mapping_post(request, imp)
        if imp.status == ImportStatus.DRAFT:
            return self._preview(request, imp)
        return self._render(
            request,
            "progress.html",
            {
                "title": f"Import of {imp.filename}",
                "imp": imp,
                "errors": imp.errors[:IMPORT_ERRORS_SHOWN],
                "status_url": reverse("admin:crm_subscriberimport_status", args=[imp.pk]),
                "poll_ms": STATUS_POLL_MS,
            },
        )

    def _mapping_post(self, request, imp: SubscriberImport):
        mapping = [request.POST.get(f"column_{i}", parsing.IGNORE) for i in range(len(imp.header))]
        try:
            imp = services.subscriber_import_map(subscriber_import=imp, mapping=mapping)
            if "start" in request.POST:
                services.subscriber_import_start(subscriber_import=imp)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        return redirect("admin:crm_subscriberimport_change", imp.pk)

    def _preview(self, request, imp: SubscriberImport):
        try:
            check = services.import_check(subscriber_import=imp)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return redirect("admin:crm_subscriberimport_add")
        targets = services.import_targets()
        columns = [
            {
                "index": i,
                "name": name,
                "target": imp.mapping[i],
                "samples": [row[i] for row in check.samples if i < len(row) and row[i].strip()],
            }
            for i, name in enumerate(imp.header)
        ]
        return self._render(
            request,
            "preview.html",
            {
                "title": f"Import {imp.filename}: check the columns",
                "imp": imp,
                "columns": columns,
                "targets": targets,
                "check": check,
                "errors": check.errors[:IMPORT_ERRORS_SHOWN],
                "errors_more": max(0, len(check.errors) - IMPORT_ERRORS_SHOWN),
                "header_ok": not any(line == 1 for line, _m in check.errors),
            },
        )

    def status_view(self, request, pk):
        imp = get_object_or_404(SubscriberImport, pk=pk)
        if not self.has_view_permission(request, imp):
            raise PermissionDenied
        return JsonResponse(services.import_status(subscriber_import=imp))
