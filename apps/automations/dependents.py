"""What in automations uses a tag (for tags.dependents)."""

from apps.tags.conditions import condition_tag_ids

from .kinds import kind_get
from .models import Node, Trigger


def automation_uses_of_tag(tag_id: int) -> list[str]:
    uses = [
        f"entry trigger of {t.automation.name!r}"
        for t in Trigger.objects.filter(tag_id=tag_id).select_related("automation")
    ]
    for node in Node.objects.select_related("automation").filter(
        kind__in=["add_tag", "remove_tag", "event", "condition"]
    ):
        tag_keys = kind_get(node.kind).tag_settings
        in_settings = any(node.settings.get(key) == tag_id for key in tag_keys)
        in_condition = node.kind == "condition" and tag_id in condition_tag_ids(
            node.settings["condition"]
        )
        if in_settings or in_condition:
            uses.append(f"{node.kind} step in {node.automation.name!r}")
    return uses
