from django.contrib import admin
from django.urls import include, path

from .health import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("anymail/", include(("apps.crm.provider_webhooks", "anymail"))),
    path("", include("apps.api.urls")),
    path("", include("apps.crm.urls")),
    path("", include("apps.members.urls")),
]
