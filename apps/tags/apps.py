from django.apps import AppConfig


class TagsConfig(AppConfig):
    name = "apps.tags"
    label = "tags"

    def ready(self) -> None:
        from apps.crm.demo import seed_step_register

        from . import event_types
        from .seed import seed_guide_tags

        event_types.register()
        seed_step_register(name="tags.guide", order=20, run=seed_guide_tags)
