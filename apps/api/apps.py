from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "apps.api"
    label = "api"

    def ready(self) -> None:
        from apps.core.periodic import PeriodicSpec, connect

        from .tasks import API_JOBS_RESUME_TASK

        connect(
            self,
            [
                PeriodicSpec(
                    name="api: resume kept bulk requests and Kit imports that stopped moving",
                    task=API_JOBS_RESUME_TASK,
                    every_seconds=60,
                )
            ],
        )
