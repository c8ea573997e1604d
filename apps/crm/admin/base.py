"""What the admin pages of every app share: the read-only log page and inline."""

from django.contrib import admin


class LogAdminMixin:
    """A log that services and workers write (emails, calls, deliveries, events, runs): each
    row's page is for reading, every field read-only, with the list's actions (replay,
    re-queue) as buttons. Nothing is added, edited or deleted by hand: a save from a page
    opened a minute ago would write back a status the worker has since moved on."""

    change_form_template = "admin/log_change_form.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # The list keeps its actions (Django asks for "change" there); a row is read-only.
        return obj is None and super().has_change_permission(request)

    def get_fields(self, request, obj=None):
        # A lease token is the worker's fencing number: nothing a reader can use.
        return [f for f in super().get_fields(request, obj) if f != "lease_token"]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        actions = [
            (name, description)
            for name, (_func, _name, description) in self.get_actions(request).items()
        ]
        extra_context = {**(extra_context or {}), "log_actions": actions}
        return super().change_view(request, object_id, form_url, extra_context)


class ReadOnlyInline(admin.TabularInline):
    """A list of related rows shown for reading: history and state that only services
    change. Subclasses name their ``fields``; all of them are read-only."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False
