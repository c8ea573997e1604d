from django.contrib import admin
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask


class GuardedPeriodicTaskAdmin(PeriodicTaskAdmin):
    """django-celery-beat's actions (enable, disable, toggle, run now) declare no permission,
    so Django offers them to anyone who may view the list: a view-only user could switch the
    sweeps off. They change the tasks, so they need the change permission."""

    def get_actions(self, request):
        return super().get_actions(request) if self.has_change_permission(request) else {}


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, GuardedPeriodicTaskAdmin)
