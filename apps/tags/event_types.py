from apps.crm.event_types import event_type_register

TAG_ADD = "tag_add"
TAG_REMOVE = "tag_remove"


def register() -> None:
    event_type_register(key=TAG_ADD, label="Tag added")
    event_type_register(key=TAG_REMOVE, label="Tag removed")
