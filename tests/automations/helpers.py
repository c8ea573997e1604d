"""Build automations the way a creator would (by tag names), move time, read the log."""

import itertools

from apps.automations.engine import runs_advance
from apps.automations.models import Automation, Run
from apps.automations.portable import SCHEMA, VERSION, automation_import
from apps.automations.run_leases import runs_claim_due
from apps.crm.dispatch import events_dispatch
from apps.tags.services import subscriber_tag_add, subscriber_tag_remove, tag_get_or_create

_names = itertools.count(1)


def build(*, triggers, steps, status="live", reentry="after_finish", name=None) -> Automation:
    return automation_import(
        {
            "schema": SCHEMA,
            "version": VERSION,
            "name": name or f"Automation {next(_names)}",
            "status": status,
            "reentry": reentry,
            "triggers": triggers,
            "steps": steps,
        }
    )


def on_tag(name: str) -> list[dict]:
    return [{"event_type": "tag_add", "tag": name}]


def add(tag: str, label: str | None = None) -> dict:
    return {"kind": "add_tag", "settings": {"tag": tag}, "label": label or f"add {tag}"}


def remove(tag: str, label: str | None = None) -> dict:
    return {"kind": "remove_tag", "settings": {"tag": tag}, "label": label or f"remove {tag}"}


def wait(amount: int, unit: str, label: str | None = None) -> dict:
    return {
        "kind": "delay",
        "settings": {"amount": amount, "unit": unit},
        "label": label or f"wait {amount} {unit}",
    }


def when(condition: dict, yes: list, no: list, label: str = "condition") -> dict:
    return {
        "kind": "condition",
        "settings": {"condition": condition},
        "yes": yes,
        "no": no,
        "label": label,
    }


def tag(subscriber, name: str) -> bool:
    return subscriber_tag_add(
        subscriber=subscriber, tag=tag_get_or_create(name=name)[0], source="test"
    )


def untag(subscriber, name: str) -> bool:
    return subscriber_tag_remove(
        subscriber=subscriber, tag=tag_get_or_create(name=name)[0], source="test"
    )


def runs_settle(*, max_rounds: int = 1000) -> int:
    """Dispatch events and advance due runs in this process until nothing is left to do
    (moved here from the engine: only tests call it; production relies on the workers,
    which do the same thing in parallel)."""
    advanced = 0
    for _ in range(max_rounds):
        dispatched = events_dispatch()
        pairs = runs_claim_due()
        if pairs:
            runs_advance(pairs=pairs)
            advanced += len(pairs)
        if not dispatched and not pairs:
            break
    return advanced


def settle() -> int:
    """What the workers would do by now: dispatch events, advance every due run."""
    return runs_settle()


def run_of(automation, subscriber) -> Run:
    return Run.objects.filter(automation=automation, subscriber=subscriber).latest("pk")


def path(run: Run) -> list[str]:
    """The steps the run took, as "label" or "label -> branch", in order."""
    return [
        f"{step.node_label} -> {step.branch}" if step.branch else step.node_label
        for step in run.steps.order_by("pk")
    ]


def tags_of(subscriber) -> set[str]:
    return set(subscriber.taggings.values_list("tag__name", flat=True))
