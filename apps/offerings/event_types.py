from apps.crm.event_types import event_type_register

ACCESS_GRANTED = "access_granted"
ACCESS_REVOKED = "access_revoked"
MODULE_RELEASED = "module_released"
LESSON_COMPLETED = "lesson_completed"


def register() -> None:
    # Each can be narrowed to one offering (and module, lesson): "access granted to the
    # Foundation Course" must not fire on another course's grant.
    event_type_register(key=ACCESS_GRANTED, label="Access granted", filters=("offering_id",))
    event_type_register(key=ACCESS_REVOKED, label="Access revoked", filters=("offering_id",))
    event_type_register(
        key=MODULE_RELEASED, label="Module released", filters=("offering_id", "module_id")
    )
    event_type_register(
        key=LESSON_COMPLETED,
        label="Lesson completed",
        filters=("offering_id", "module_id", "lesson_id"),
    )
