"""Outbound HTTP: what Tessera owes somebody (webhook deliveries), Kit's hooks that cause
some of them, and the log of attempts."""

from django.db import models
from django.db.models import Q


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"
    GONE = "gone", "Gone (target answered 410)"


class WebhookDelivery(models.Model):
    """One HTTP POST that Tessera owes somebody, and how it went.

    ``key`` says what owes it (``run:12:node:5``, ``hook:3:event:99``) and is unique, so a step
    that runs twice still owes one delivery. Attempts happen outside any transaction, under a
    lease (``locked_until``), and are retried with backoff.
    """

    key = models.CharField(max_length=200, unique=True)
    url = models.URLField(max_length=2000)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.PositiveIntegerField(default=0)
    # The worker process holding the lease (apps/core/leases.py); "" when none beats for it.
    lease_holder = models.CharField(max_length=200, blank=True, default="", db_default="")
    # Set for a Kit hook's delivery: signed with the hook's secret at each attempt.
    hook = models.ForeignKey(
        "Hook", on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The sending sweep reads only pending rows; delivered ones accumulate.
            models.Index(
                fields=["next_attempt_at"],
                name="crm_delivery_due",
                condition=Q(status="pending"),
            ),
            # The reaper reads only rows under a lease.
            models.Index(
                fields=["locked_until"],
                name="crm_delivery_leased",
                condition=Q(status="sending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} -> {self.url}"


class Hook(models.Model):
    """Kit's ``automations/hooks`` rule: when ``event_name`` happens (filtered by tag, form,
    sequence, product or link), POST Kit's payload to ``target_url``. Deliveries are signed
    with ``secret`` in the Standard Webhooks scheme; a 410 answer deactivates the hook."""

    event_name = models.CharField(max_length=64)
    tag_id = models.IntegerField(null=True, blank=True)
    form_id = models.IntegerField(null=True, blank=True)
    sequence_id = models.IntegerField(null=True, blank=True)
    product_id = models.CharField(max_length=255, blank=True)
    custom_field_id = models.IntegerField(null=True, blank=True)
    initiator_value = models.CharField(max_length=2000, blank=True)
    target_url = models.URLField(max_length=2000)
    secret = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["event_name"], name="crm_hook_event", condition=Q(active=True))
        ]

    def __str__(self) -> str:
        return f"{self.event_name} → {self.target_url}"


class DeliveryAttempt(models.Model):
    """One attempt at a webhook delivery (the HookDelivery log)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"attempt {self.pk}: {self.status_code or self.error}"
