from django.db.models import QuerySet

from apps.crm.models import Subscriber


def subscriber_for_update(subscriber_id: int) -> QuerySet[Subscriber]:
    """The member's row, locked: one quiz attempt, track pick or certificate issue at a time
    per member, so attempt numbers, the attempts limit and "issued once" hold under double
    submits."""
    return Subscriber.objects.select_for_update().filter(pk=subscriber_id)
