from django.apps import AppConfig


class AutomationsConfig(AppConfig):
    name = "apps.automations"
    label = "automations"

    def ready(self) -> None:
        from apps.crm.demo import seed_step_register
        from apps.crm.health import health_check_register
        from apps.crm.timeline import timeline_provider_register
        from apps.tags.dependents import tag_dependents_register

        from . import consumers
        from .dependents import automation_uses_of_tag
        from .health import automations_health
        from .kinds import kinds_register_builtin
        from .seed import seed_guide_automations
        from .timeline import automations_timeline

        kinds_register_builtin()
        consumers.register()
        tag_dependents_register(name="automations", find=automation_uses_of_tag)
        health_check_register(name="automations", order=10, check=automations_health)
        timeline_provider_register(
            name="automations",
            provide=automations_timeline,
            permissions={"run": "automations.view_run"},
        )
        # After the offerings' seed (30): the release flow waits for access to its course.
        seed_step_register(name="automations.guide", order=35, run=seed_guide_automations)
