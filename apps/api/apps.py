from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "apps.api"
    label = "api"

    def ready(self) -> None:
        from . import job_leases  # noqa: F401  (registers the jobs' lease kinds)
