from django.apps import AppConfig


class TagsConfig(AppConfig):
    name = "apps.tags"
    label = "tags"

    def ready(self) -> None:
        from apps.crm.demo import seed_step_register
        from apps.crm.dispatch import consumer_register
        from apps.crm.event_types import FORM_SUBSCRIBE
        from apps.crm.imports.services import import_tagger_register

        from . import event_types
        from .dependents import tag_dependents_register
        from .imports import import_tags_apply
        from .seed import seed_guide_tags
        from .services import tag_name_clean, taggings_add
        from .tagmap import crm_uses_of_tag

        def on_form_subscribe(events):
            # A form's tags (and those asked for with the subscription) follow the sign-up.
            taggings_add(
                pairs=[
                    (e.subscriber_id, t)
                    for e in events
                    if e.subscriber_id
                    for t in e.payload.get("tag_ids", [])
                ],
                source="form",
            )

        event_types.register()
        consumer_register(
            name="tags.form_tags", handle=on_form_subscribe, event_types=[FORM_SUBSCRIBE]
        )
        tag_dependents_register(name="crm", find=crm_uses_of_tag)
        seed_step_register(name="tags.guide", order=20, run=seed_guide_tags)
        import_tagger_register(clean=tag_name_clean, apply=import_tags_apply)
