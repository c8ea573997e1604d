from django.apps import AppConfig


class OfferingsConfig(AppConfig):
    name = "apps.offerings"
    label = "offerings"

    def ready(self) -> None:
        from apps.crm.demo import seed_step_register
        from apps.crm.dispatch import consumer_register
        from apps.crm.timeline import subscriber_panel_register
        from apps.tags.dependents import tag_dependents_register
        from apps.tags.event_types import TAG_ADD
        from apps.tags.services import taggings_added_hook_register

        from . import event_types
        from .dependents import offering_uses_of_tag
        from .seed import seed_foundation_course
        from .services import grants_end_on_revoke_tags, module_released_by_tag
        from .timeline import access_panel

        def on_tag_added(events):
            module_released_by_tag(
                pairs=[
                    (e.subscriber_id, e.payload.get("tag_id")) for e in events if e.subscriber_id
                ]
            )

        event_types.register()
        taggings_added_hook_register(name="offerings.revoke", handle=grants_end_on_revoke_tags)
        tag_dependents_register(name="offerings", find=offering_uses_of_tag)
        subscriber_panel_register(name="offerings", provide=access_panel)
        consumer_register(name="offerings.module_tags", handle=on_tag_added, event_types=[TAG_ADD])
        seed_step_register(name="offerings.foundation", order=30, run=seed_foundation_course)
