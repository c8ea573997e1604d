"""Lint: what in a flow is likely a mistake, said on the card it concerns.

A fixed number of queries whatever the size of the flow: who adds the tags (the tag map's
registry of uses, plus forms), the offerings' facts, and the names of the tags involved.
"""

import re
from dataclasses import dataclass

from apps.tags.conditions import condition_tag_ids
from apps.tags.dependents import Role, tag_uses_all
from apps.tags.event_types import TAG_ADD, TAG_REMOVE
from apps.tags.models import Tag

from .facts import offering_facts_all
from .graph import Graph

PASSWORD_FIELD_DEFAULT = "accessally_password"
FINAL_KINDS = ("end", "exit")


@dataclass(frozen=True)
class LintMessage:
    """``node_id`` (or ``trigger_id``) names the card; neither: the automation as a whole."""

    text: str
    node_id: int | None = None
    trigger_id: int | None = None


def _node_tags(node) -> set[int]:
    if node.kind == "condition":
        return condition_tag_ids(node.settings["condition"])
    tag_id = node.settings.get("tag_id")
    return {tag_id} if tag_id else set()


def _uses_field(text: str, key: str) -> bool:
    return re.search(rf"subscriber\.{re.escape(key)}\b", text) is not None


def _guarded(text: str, key: str) -> bool:
    """``{% if subscriber.key %}``: the template falls back when the field is empty."""
    return re.search(rf"{{%-?\s*if\s+subscriber\.{re.escape(key)}\b", text) is not None


def automation_lint(*, graph: Graph, triggers) -> list[LintMessage]:
    nodes = list(graph.walk())
    triggers = list(triggers)
    entry_tags = {t.tag_id for t in triggers if t.tag_id and t.event_type == TAG_ADD}
    needed: dict[int, list[tuple[str, int]]] = {}
    for trigger in triggers:
        if trigger.tag_id and trigger.event_type in (TAG_ADD, TAG_REMOVE):
            needed.setdefault(trigger.tag_id, []).append(("trigger", trigger.pk))
    for node in nodes:
        if node.kind == "condition" or (
            node.kind == "event" and node.settings.get("event_type") in (TAG_ADD, TAG_REMOVE)
        ):
            for tag_id in _node_tags(node):
                needed.setdefault(tag_id, []).append(("node", node.pk))
    flow_tags = set(needed) | {t for n in nodes for t in _node_tags(n)}

    # Every registered finder's "adds": steps, forms, lessons, offerings, webhook operations.
    adders = {u.tag_id for u in tag_uses_all(tag_ids=set(needed)) if u.role == Role.ADDS}
    names = dict(Tag.objects.filter(pk__in=flow_tags).values_list("pk", "name"))
    offerings = offering_facts_all()
    # An offering's convention tags (purchase success, instant access...) are there to be
    # added: by the offering itself, a checkout or an admin.
    for offering in offerings:
        adders |= offering.tag_ids
    messages: list[LintMessage] = []

    for tag_id, places in needed.items():
        if tag_id in adders:
            continue
        for where, pk in places:
            messages.append(
                LintMessage(
                    f"Nothing adds the tag {names.get(tag_id, tag_id)!r} (no automation step, "
                    "form, offering or webhook operation): only a tag added by hand or "
                    "through the API can match here.",
                    node_id=pk if where == "node" else None,
                    trigger_id=pk if where == "trigger" else None,
                )
            )

    removed = {n.settings.get("tag_id") for n in nodes if n.kind == "remove_tag"}
    release_tags = {
        tag_id: offering.name
        for offering in offerings
        for tag_id in offering.webhook_tags.get("release", {})
    }
    for node in nodes:
        if node.kind != "add_tag":
            continue
        tag_id = node.settings.get("tag_id")
        name = names.get(tag_id, tag_id)
        if tag_id in entry_tags:
            messages.append(
                LintMessage(
                    f"This step adds {name!r}, the tag that starts this automation: it "
                    "cannot re-enter while the run is active, so nothing happens now, and the "
                    "tag stays on for good.",
                    node_id=node.pk,
                )
            )
        if tag_id in release_tags and tag_id not in removed:
            messages.append(
                LintMessage(
                    f"{name!r} fires the Release Offering webhook of {release_tags[tag_id]!r}, "
                    "but this flow never removes it: add a Remove tag step after the release "
                    "(access granted), so the tag can fire again later.",
                    node_id=node.pk,
                )
            )

    related = [o for o in offerings if o.tag_ids & flow_tags]
    for node in nodes:
        if node.kind != "send_email":
            continue
        text = f"{node.settings.get('subject', '')}\n{node.settings.get('body', '')}"
        keys = {PASSWORD_FIELD_DEFAULT} | {o.password_field_key for o in offerings}
        for key in sorted(k for k in keys if _uses_field(text, k) and not _guarded(text, k)):
            owners = [o for o in (related or offerings) if o.password_field_key == key]
            if any(o.store_password for o in owners):
                continue
            which = ", ".join(repr(o.name) for o in owners) or "no offering"
            messages.append(
                LintMessage(
                    f"This email prints subscriber.{key}, but {which} does not store passwords "
                    "in that field, so the email would be held. Turn on “store password” on "
                    "the offering, or send {{ set_password_url }} instead.",
                    node_id=node.pk,
                )
            )

    for lane in graph.lanes.values():
        final = None
        for node_id in lane:
            node = graph.nodes[node_id]
            if final is not None:
                messages.append(
                    LintMessage(
                        f"Never reached: it comes after the {final} step on the same path. "
                        "Move it above, or delete it.",
                        node_id=node_id,
                    )
                )
            elif node.kind in FINAL_KINDS:
                final = "End" if node.kind == "end" else "Exit"
    return messages
