"""The flow the worker tests run: five steps per person, each with an effect to count."""

from apps.crm.models import Subscriber
from apps.tags.services import tag_bulk_add, tag_get_or_create
from tests.automations.helpers import add, build, on_tag, remove, when

STEPS_PER_RUN = 5


def five_step_flow_entered(*, people: int, prefix: str) -> None:
    """A live flow (add X; if X: remove X; a zero delay; end) and ``people`` subscribers
    tagged into it in one transaction; nobody has processed anything yet."""
    build(
        triggers=on_tag("Go"),
        steps=[
            add("X"),
            when({"has": "X"}, yes=[remove("X")], no=[]),
            {"kind": "delay", "settings": {"amount": 0, "unit": "minutes"}},
            {"kind": "end", "settings": {}},
        ],
    )
    Subscriber.objects.bulk_create(
        Subscriber(email=f"{prefix}{i}@example.com") for i in range(people)
    )
    tag_bulk_add(
        tag=tag_get_or_create(name="Go")[0],
        subscriber_ids=Subscriber.objects.values_list("pk", flat=True),
        source="test",
    )
