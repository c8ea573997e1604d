from apps.crm.event_types import event_type_register

MEMBER_LOGIN_CREATED = "member_login_created"


def register() -> None:
    event_type_register(key=MEMBER_LOGIN_CREATED, label="Member login created")
