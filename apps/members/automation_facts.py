"""Offerings and their Webhook Generator endpoints, as the automation builder needs them
(lint, the Course launch template). Members sits above offerings and automations, so it is
the one place that can hand one to the other; a fixed number of queries whatever the size."""

from collections import defaultdict

from apps.automations.facts import ModuleFacts, OfferingFacts
from apps.offerings.models import Lesson, Module, Offering, ReleaseRule

from .models import EndpointStatus, WebhookEndpoint


def offering_facts() -> list[OfferingFacts]:
    offerings = list(
        Offering.objects.select_related("base_tag", "instant_tag", "revoke_tag", "purchase_tag")
    )
    modules = defaultdict(list)
    for module in Module.objects.select_related("access_tag").order_by("offering", "position"):
        modules[module.offering_id].append(module)
    lesson_tags = defaultdict(dict)
    lessons = defaultdict(list)
    for lesson in Lesson.objects.select_related("module", "completion_tag").order_by(
        "module_id", "position", "pk"
    ):
        lessons[lesson.module_id].append((lesson.pk, lesson.title))
        if lesson.completion_tag_id:
            lesson_tags[lesson.module.offering_id][lesson.completion_tag_id] = (
                f"completing the lesson {lesson.title!r}"
            )
    hooks = defaultdict(lambda: defaultdict(dict))
    for endpoint in WebhookEndpoint.objects.filter(
        status=EndpointStatus.ACTIVE, trigger_tag__isnull=False
    ).select_related("trigger_tag"):
        hooks[endpoint.offering_id][endpoint.operation][endpoint.trigger_tag_id] = (
            endpoint.trigger_tag.name
        )
    facts = []
    for offering in offerings:
        added = {
            offering.base_tag_id: f"granting access to {offering.name!r}",
            offering.revoke_tag_id: f"revoking access to {offering.name!r}",
            **lesson_tags[offering.pk],
        }
        module_facts = []
        for module in modules[offering.pk]:
            added[module.access_tag_id] = f"the drip of {offering.name!r}"
            days = module.release_days if module.release_rule == ReleaseRule.DAYS_AFTER else None
            if module.release_rule == ReleaseRule.IMMEDIATELY:
                days = 0
            module_facts.append(
                ModuleFacts(
                    title=module.title,
                    access_tag_id=module.access_tag_id,
                    access_tag=module.access_tag.name,
                    release_days=days,
                    id=module.pk,
                    lessons=tuple(lessons[module.pk]),
                )
            )
        webhook_tags = {operation: dict(tags) for operation, tags in hooks[offering.pk].items()}
        facts.append(
            OfferingFacts(
                id=offering.pk,
                name=offering.name,
                store_password=offering.store_password,
                password_field_key=offering.password_field_key,
                purchase_tag=offering.purchase_tag.name,
                revoke_tag=offering.revoke_tag.name,
                modules=tuple(module_facts),
                webhook_tags=webhook_tags,
                tags_added=added,
                tag_ids=frozenset(
                    {
                        offering.base_tag_id,
                        offering.instant_tag_id,
                        offering.revoke_tag_id,
                        offering.purchase_tag_id,
                        *(m.access_tag_id for m in modules[offering.pk]),
                        *(t for tags in webhook_tags.values() for t in tags),
                    }
                ),
            )
        )
    return facts
