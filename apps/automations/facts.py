"""What the apps above automations know that the builder needs: offerings, their tags and
their Webhook Generator endpoints.

Automations never import offerings or members (DESIGN: imports run one way), so those apps
register a provider here in ``AppConfig.ready()``; lint and the Course launch template read
it. Without a provider (automations alone) there are simply no offerings.
"""

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModuleFacts:
    title: str
    access_tag_id: int
    access_tag: str
    # Days after access was granted, or None when the module is not on a day schedule.
    release_days: int | None
    id: int = 0
    # (lesson id, title), in order: what a "lesson completed" filter may name.
    lessons: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class OfferingFacts:
    """One offering as the builder sees it, tags by id and by name."""

    id: int
    name: str
    store_password: bool
    password_field_key: str
    purchase_tag: str
    revoke_tag: str
    modules: tuple[ModuleFacts, ...] = ()
    # Endpoint trigger tags by operation ("release", "update", "revoke"): tag id -> name.
    webhook_tags: dict[str, dict[int, str]] = field(default_factory=dict)
    # Tags something in the offering adds (grant, drip, lesson completion): id -> why.
    tags_added: dict[int, str] = field(default_factory=dict)
    tag_ids: frozenset[int] = frozenset()


_PROVIDERS: dict[str, Callable[[], list[OfferingFacts]]] = {}


def offering_facts_register(*, name: str, provide: Callable[[], list[OfferingFacts]]) -> None:
    _PROVIDERS[name] = provide


def offering_facts_all() -> list[OfferingFacts]:
    return [facts for provide in _PROVIDERS.values() for facts in provide()]


def offering_facts_by_id() -> dict[int, OfferingFacts]:
    return {facts.id: facts for facts in offering_facts_all()}
