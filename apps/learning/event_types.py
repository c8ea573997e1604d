from apps.crm.event_types import event_type_register

QUIZ_COMPLETED = "quiz_completed"
CHOICE_MADE = "choice_made"
CERTIFICATE_ISSUED = "certificate_issued"


def register() -> None:
    # Narrowed like lesson events: "quiz completed in the Foundation Course, quiz 3".
    event_type_register(
        key=QUIZ_COMPLETED, label="Quiz completed", filters=("offering_id", "lesson_id", "quiz_id")
    )
    event_type_register(key=CHOICE_MADE, label="Choice made", filters=("offering_id", "choice_id"))
    event_type_register(
        key=CERTIFICATE_ISSUED, label="Certificate issued", filters=("offering_id", "template_id")
    )
