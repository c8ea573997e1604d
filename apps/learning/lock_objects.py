from django.db.models import QuerySet

from apps.crm.models import Subscriber


def subscribers_for_update(subscriber_ids: list[int]) -> QuerySet[Subscriber]:
    """The members' rows, locked in id order (no deadlock between two batches): one quiz
    attempt, track pick or certificate issue at a time per member, so attempt numbers, the
    attempts limit and "issued once" hold under double submits."""
    return Subscriber.objects.select_for_update().filter(pk__in=subscriber_ids).order_by("pk")
