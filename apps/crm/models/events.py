"""What happened to subscribers: the event log the dispatcher delivers to consumers."""

from django.db import models
from django.db.models import Q

from .subscribers import Subscriber


class Event(models.Model):
    """Something that happened to a subscriber, written in the same transaction as the change.

    Append-only in what it says (type, payload, time); the dispatch columns record its
    delivery to the registered consumers. ``dispatched_at`` is set in the same transaction as
    the consumers' effects, so an event is either fully consumed or not at all.
    """

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The dispatcher's claim scans only pending rows; dispatched ones pile up forever
            # and must not slow it down.
            models.Index(
                fields=["id"],
                name="crm_event_pending",
                condition=Q(dispatched_at__isnull=True, failed_at__isnull=True),
            ),
            # A subscriber's timeline, newest first.
            models.Index(fields=["subscriber", "-id"], name="crm_event_subscriber"),
            models.Index(fields=["type", "-id"], name="crm_event_type"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"
