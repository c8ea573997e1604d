"""The people on the list and the custom fields that describe them."""

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
