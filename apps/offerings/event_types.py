from apps.crm.event_types import event_type_register

ACCESS_GRANTED = "access_granted"
ACCESS_REVOKED = "access_revoked"
MODULE_RELEASED = "module_released"
LESSON_COMPLETED = "lesson_completed"


def register() -> None:
    event_type_register(key=ACCESS_GRANTED, label="Access granted")
    event_type_register(key=ACCESS_REVOKED, label="Access revoked")
    event_type_register(key=MODULE_RELEASED, label="Module released")
    event_type_register(key=LESSON_COMPLETED, label="Lesson completed")
