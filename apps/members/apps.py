from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "apps.members"
    label = "members"

    def ready(self) -> None:
        from apps.tags.dependents import tag_dependents_register

        from .dependents import endpoint_uses_of_tag

        tag_dependents_register(name="members", find=endpoint_uses_of_tag)
        from apps.crm.demo import seed_step_register
        from apps.crm.dispatch import consumer_register
        from apps.tags.event_types import TAG_ADD

        from . import event_types
        from .hooks import endpoints_fire_on_tags
        from .seed import seed_demo_member

        event_types.register()
        consumer_register(
            name="members.endpoint_triggers", handle=endpoints_fire_on_tags, event_types=[TAG_ADD]
        )
        seed_step_register(name="members.demo", order=50, run=seed_demo_member)
