"""Kit's sequences: emails sent one after another, and each subscriber's place in one."""

from django.db import models
from django.db.models import Q

from .emails import HtmlBody
from .subscribers import Subscriber


class Sequence(models.Model):
    """Kit's sequence (v3 calls it a course): emails sent one after another. ``is_purchase``
    marks emails about something the subscriber bought; they keep flowing after an
    unsubscribe when the subscriber asks to keep them (the guide's preference advice)."""

    name = models.CharField(max_length=255, unique=True)
    is_purchase = models.BooleanField(default=False)
    hold = models.BooleanField(
        default=False,
        help_text="Kit's evergreen sequence: after the last published email subscribers stay "
        "in it, on hold at their place, and receive emails published later; without it they "
        "are completed and miss later additions.",
    )
    repeat = models.BooleanField(
        default=False,
        help_text="Adding again someone who completed the sequence starts it again from the "
        "first email; without it they are not sent it twice.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


ALL_WEEKDAYS = [0, 1, 2, 3, 4, 5, 6]


def _all_weekdays() -> list[int]:
    return list(ALL_WEEKDAYS)


class SequenceEmail(HtmlBody):
    """One email of a sequence, sent ``delay_days`` / ``delay_hours`` after the previous one
    (after subscribing, for the first), only on ``send_days`` (0 = Monday), once published."""

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="emails")
    position = models.PositiveIntegerField(default=0)
    subject = models.CharField(max_length=255)
    body = models.TextField(help_text="Liquid: {{ subscriber.first_name }}, {{ unsubscribe_url }}…")
    delay_days = models.PositiveIntegerField(default=0)
    delay_hours = models.PositiveIntegerField(default=0)
    published = models.BooleanField(default=False)
    send_days = models.JSONField(default=_all_weekdays, blank=True)
    # The send-time window, in the site's time zone; empty: any time of day.
    send_window_start = models.TimeField(null=True, blank=True)
    send_window_end = models.TimeField(null=True, blank=True)

    class Meta:
        ordering = ["sequence", "position", "pk"]

    def __str__(self) -> str:
        return f"{self.sequence}: {self.subject}"


class SubscriptionState(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class SequenceSubscription(models.Model):
    """A subscriber going through a sequence. ``next_position`` is the next email to send and
    ``next_send_at`` its timer (partial index over active rows: the sending sweep's). Active
    with no ``next_send_at``: on hold at the end of a Hold sequence, waiting for an email
    published later. ``round`` counts the passes (a Repeat sequence starts again), so each
    pass's emails have their own outbox keys."""

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="sequence_subscriptions"
    )
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="subscriptions")
    state = models.CharField(
        max_length=10, choices=SubscriptionState.choices, default=SubscriptionState.ACTIVE
    )
    next_position = models.PositiveIntegerField(default=0)
    next_send_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    round = models.PositiveIntegerField(default=1)
    source = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "sequence"], name="crm_one_sequence_sub")
        ]
        indexes = [
            models.Index(
                fields=["next_send_at"],
                name="crm_sequence_due",
                condition=Q(state="active", next_send_at__isnull=False),
            ),
            # Subscribers on hold at the end of a Hold sequence, per sequence: the sweep looks
            # here for anyone a newly published email should reach.
            models.Index(
                fields=["sequence", "next_position"],
                name="crm_sequence_on_hold",
                condition=Q(state="active", next_send_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} in {self.sequence}"
