"""Step kinds: one module per kind (see ``base`` for what a kind owns), and the registry.

The built-in kinds register themselves from ``kinds_register_builtin`` (the app's ready);
another app (or a test) adds a kind with ``kind_register`` and nothing else.
"""

from importlib import import_module

from .base import (
    DryOutcome,
    DryState,
    Field,
    NodeKind,
    Outcome,
    PortableNames,
    SettingsError,
    StepContext,
    StepError,
    kind_get,
    kind_register,
    kind_unregister,
    kinds_all,
    kinds_where,
    node_settings_clean,
)

BUILTIN = (
    "delay",
    "add_tag",
    "remove_tag",
    "condition",
    "event",
    "webhook",
    "set_field",
    "start_automation",
    "remove_from_automation",
    "exit",
    "end",
    "send_email",
    "email_sequence",
)


def kinds_register_builtin() -> None:
    for name in BUILTIN:
        kind_register(import_module(f"{__name__}.{name}").KIND)
    import_module(f"{__name__}.email_sequence").register_consumer()


__all__ = [
    "DryOutcome",
    "DryState",
    "Field",
    "NodeKind",
    "Outcome",
    "PortableNames",
    "SettingsError",
    "StepContext",
    "StepError",
    "kind_get",
    "kind_register",
    "kind_unregister",
    "kinds_all",
    "kinds_register_builtin",
    "kinds_where",
    "node_settings_clean",
]
