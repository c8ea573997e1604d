from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class SubscriberState(models.TextChoices):
    """Kit's subscriber states."""

    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive (double opt-in not confirmed)"
    CANCELLED = "cancelled", "Cancelled (unsubscribed)"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Complained"


class Subscriber(models.Model):
    """A person on the list: one row per email address, whatever its case.

    The address is stored trimmed and lower-cased (a check constraint holds the service to it),
    so the plain unique index both enforces case-insensitive uniqueness and serves lookups.
    """

    email = models.EmailField(max_length=254, unique=True)
    first_name = models.CharField(max_length=255, blank=True)
    state = models.CharField(
        max_length=16, choices=SubscriberState.choices, default=SubscriberState.ACTIVE
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Preferences (the subscriber's own page): broadcasts, and whether emails about what they
    # bought keep coming after an unsubscribe.
    broadcasts_opted_out = models.BooleanField(default=False)
    keep_purchase_emails = models.BooleanField(default=True)
    # A creator's own test address: the builder lets such a subscriber skip a running wait.
    is_test = models.BooleanField(
        "test subscriber",
        default=False,
        help_text="Test subscribers may skip an automation's waits from the builder.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(email=Lower("email")), name="crm_email_lowercase"),
        ]
        permissions = [
            (
                "view_subscriber_secrets",
                "Can see subscribers' secrets (sensitive fields, set-password links)",
            ),
        ]

    def __str__(self) -> str:
        return self.email


class CustomField(models.Model):
    """A subscriber attribute, as Kit defines one.

    ``label`` is what the creator sees and may be renamed; ``key`` is derived from the first
    label (ASCII, lower case, underscores), never changes, and is what Liquid templates use
    (``{{ subscriber.accessally_password }}``). ``name`` is Kit's form-input name, derived.
    """

    label = models.CharField(max_length=255, unique=True)
    key = models.SlugField(max_length=255, unique=True)
    # A value that must not be copied around (a generated password): events, logs and the
    # admin show "[redacted]" instead; Liquid still renders it into the one email that needs it.
    sensitive = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label

    @property
    def name(self) -> str:
        return f"ck_field_{self.pk}_{self.key}"


class SubscriberFieldValue(models.Model):
    """One subscriber's value for one custom field (absent row = no value)."""

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="field_values"
    )
    field = models.ForeignKey(CustomField, on_delete=models.CASCADE, related_name="values")
    value = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "field"], name="crm_one_value_per_field")
        ]
        indexes = [models.Index(fields=["field", "value"], name="crm_fieldvalue_lookup")]

    def __str__(self) -> str:
        return f"{self.field.key}={self.value}"


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


from .import_models import ImportStatus, SubscriberImport  # noqa: E402,F401  (registers it)
from .messaging_models import (  # noqa: E402,F401  (registers the messaging models)
    ActivityKind,
    BodyFormat,
    Broadcast,
    BroadcastStatus,
    DeliveryAttempt,
    EmailActivity,
    EmailKind,
    EmailLayout,
    EmailMessage,
    EmailStatus,
    EmailTemplate,
    Form,
    FormSubscription,
    Hook,
    Purchase,
    Sequence,
    SequenceEmail,
    SequenceSubscription,
    SubscriptionState,
)
