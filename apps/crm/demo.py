"""The registry of ``seed_demo`` steps.

crm cannot import the apps above it, so each app registers the demo data it contributes in
``AppConfig.ready()``; ``seed_demo`` runs the steps by ``order``. Every step must be safe to
run twice (get-or-create, never duplicate) and returns lines to print.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SeedStep:
    name: str
    order: int
    run: Callable[[], list[str]]


_STEPS: dict[str, SeedStep] = {}


def seed_step_register(*, name: str, order: int, run: Callable[[], list[str]]) -> None:
    _STEPS[name] = SeedStep(name=name, order=order, run=run)


def seed_steps_all() -> list[SeedStep]:
    return sorted(_STEPS.values(), key=lambda s: (s.order, s.name))
