from django.contrib import admin
from django.urls import include, path

from apps.core.health import healthz

# Unknown addresses answer a page titled "Page not found" in the member area's look.
handler404 = "apps.members.player_views.handler404"

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("anymail/", include(("apps.crm.provider_webhooks", "anymail"))),
    path("", include("apps.api.urls")),
    path("", include("apps.crm.urls")),
    path("", include("apps.members.urls")),
    path("", include("apps.learning.urls")),
    path("", include("apps.commerce.urls")),
]
