import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from apps.crm.models import Subscriber
from apps.offerings.models import Offering
from apps.tags.models import Tag

from .purchases import Cart


class Member(models.Model):
    """A login (Django user, email as username) for a subscriber. One each way."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="member"
    )
    subscriber = models.OneToOneField(Subscriber, on_delete=models.CASCADE, related_name="member")
    created_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return self.user.get_username()


class Operation(models.TextChoices):
    RELEASE = "release", "Release Offering"
    UPDATE = "update", "Update User"
    REVOKE = "revoke", "Revoke Access"
    PURCHASE = "purchase", "Record Purchase (a cart's webhook)"


class EndpointStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"


def _new_public_id() -> str:
    return secrets.token_urlsafe(12)


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """A URL a CRM calls to run one operation on one offering (AccessAlly's Webhook
    Generator). The URL is a capability: the public id plus an HMAC-SHA256 signature over the
    public id, operation and offering, keyed with this endpoint's secret. Rotating the secret or
    revoking the endpoint kills every URL minted before."""

    public_id = models.CharField(max_length=32, unique=True, default=_new_public_id)
    operation = models.CharField(max_length=8, choices=Operation.choices)
    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="endpoints")
    trigger_tag = models.ForeignKey(
        Tag,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="webhook_endpoints",
        help_text="When this tag is added, the built-in CRM calls the URL, and the operation "
        "removes the tag afterwards so it can fire again.",
    )
    secret = models.CharField(max_length=64, default=_new_secret)
    hook = models.OneToOneField(
        "crm.Hook", on_delete=models.SET_NULL, null=True, blank=True, related_name="endpoint"
    )
    status = models.CharField(
        max_length=8, choices=EndpointStatus.choices, default=EndpointStatus.ACTIVE
    )
    label = models.CharField(max_length=200, blank=True)
    # The purchase operation only: which cart posts here, and that cart's own secret (its
    # secret word, webhook secret, seller id or signing secret), checked on every call.
    cart = models.CharField(max_length=16, choices=Cart.choices, blank=True)
    cart_secret = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        # A URL is a capability (it grants offerings to whoever calls it): seeing one and
        # minting, rotating or revoking one are rights of their own, beyond "view" and "change".
        permissions = [
            ("view_webhookendpoint_url", "Can see Webhook Generator URLs"),
            ("mint_webhookendpoint", "Can mint Webhook Generator URLs"),
            ("rotate_webhookendpoint", "Can rotate Webhook Generator URLs"),
            ("revoke_webhookendpoint", "Can revoke Webhook Generator URLs"),
        ]
        indexes = [
            models.Index(
                fields=["trigger_tag"],
                name="members_endpoint_trigger",
                condition=Q(status="active", trigger_tag__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return self.label or f"{self.get_operation_display()}: {self.offering}"

    def signature(self, *, operation: str | None = None, offering_id: int | None = None) -> str:
        operation = self.operation if operation is None else operation
        offering_id = self.offering_id if offering_id is None else offering_id
        message = f"{self.public_id}:{operation}:{offering_id}"
        return hmac.new(self.secret.encode(), message.encode(), hashlib.sha256).hexdigest()

    def signature_valid(self, *, operation: str, offering_id: int, signature: str) -> bool:
        expected = self.signature(operation=operation, offering_id=offering_id)
        # Bytes, not text: compare_digest refuses non-ASCII text with a TypeError (a 500 for
        # anyone who puts an accented letter in the URL).
        given = signature.encode("utf-8", "surrogatepass")
        return hmac.compare_digest(expected.encode(), given)

    @property
    def path(self) -> str:
        return reverse(
            "members:webhook_inbound",
            kwargs={
                "public_id": self.public_id,
                "operation": self.operation,
                "offering_id": self.offering_id,
                "signature": self.signature(),
            },
        )

    @property
    def url(self) -> str:
        return f"{settings.SITE_URL}{self.path}"


class CallStatus(models.TextChoices):
    REFUSED = "refused", "Refused"
    ACCEPTED = "accepted", "Accepted (queued)"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class WebhookCall(models.Model):
    """One inbound call to a webhook URL: what came in (secrets redacted), what was answered,
    and what the operation did. Accepted calls can be replayed from the admin."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, null=True, blank=True, related_name="calls"
    )
    received_at = models.DateTimeField(auto_now_add=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    path = models.CharField(max_length=500, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    http_status = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=8, choices=CallStatus.choices)
    delivery_id = models.CharField(max_length=200, blank=True)
    # The contact the call named, once found (the subscriber's timeline lists their calls).
    subscriber = models.ForeignKey(
        "crm.Subscriber",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="webhook_calls",
    )
    result = models.TextField(blank=True)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # A delivery the sender names (webhook-id header) has one effect, however often
            # it arrives.
            models.UniqueConstraint(
                fields=["endpoint", "delivery_id"],
                condition=~Q(delivery_id=""),
                name="members_call_delivery_once",
            )
        ]
        # The generator's "last call" per endpoint.
        indexes = [
            models.Index(fields=["endpoint", "-received_at"], name="members_call_by_endpoint"),
            # The batch claim (and the stuck-call sweep) reads accepted calls oldest first:
            # only those are indexed, so the claim never walks the call log.
            models.Index(
                fields=["id"], condition=Q(status="accepted"), name="members_call_accepted"
            ),
        ]

    def __str__(self) -> str:
        return f"call #{self.pk} ({self.status})"


class LoginThrottle(models.Model):
    """Failed logins for one key (an account or an address) in the current window, and the
    lock they caused. In the database so every web process shares it."""

    key = models.CharField(max_length=200, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.failures} failure(s)"
