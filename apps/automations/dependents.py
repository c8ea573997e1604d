"""What in automations adds or uses a tag (for tags.dependents and the tag map)."""

from collections.abc import Collection

from django.urls import reverse

from apps.tags.dependents import Role, TagUse

from .kinds import kind_get, kinds_where
from .models import Node, Trigger


def _automation_url(automation_id: int) -> str:
    return reverse("admin:automations_automation_change", args=[automation_id])


def automation_uses_of_tag(tag_ids: Collection[int] | None) -> list[TagUse]:
    """Two queries whatever the number of tags or steps: triggers, then tag-bearing steps."""
    triggers = Trigger.objects.filter(tag__isnull=False).select_related("automation")
    if tag_ids is not None:
        triggers = triggers.filter(tag_id__in=tag_ids)
    uses = [
        TagUse(
            tag_id=t.tag_id,
            role=Role.NEEDS,
            text=f"entry trigger of {t.automation.name!r}",
            url=_automation_url(t.automation_id),
        )
        for t in triggers
    ]
    # Tags sit inside each step's JSON settings, so steps are read once and matched here.
    tagging_kinds = kinds_where(lambda k: k.names_tags)
    for node in Node.objects.select_related("automation").filter(kind__in=tagging_kinds):
        kind = kind_get(node.kind)
        for tag_id in kind.tags_used(node.settings):
            uses.append(
                TagUse(
                    tag_id=tag_id,
                    role=kind.tag_role,
                    text=f"{node.kind.replace('_', ' ')} step in {node.automation.name!r}"
                    + (f" ({node.label})" if node.label else ""),
                    url=_automation_url(node.automation_id),
                )
            )
    return uses
