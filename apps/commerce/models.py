"""What a creator sells (products and prices on offerings), what buyers paid (orders), their
Stripe subscriptions, and every Stripe event received."""

from decimal import Decimal

from django.db import models
from django.db.models import Q

from apps.crm.models import Purchase, Subscriber
from apps.offerings.models import Offering
from apps.tags.models import Tag


class Consequence(models.TextChoices):
    REVOKE = "revoke", "Add the offering's Revoke Access tag (the guide's revoke flow runs)"
    REMOVE_TAGS = "remove_tags", "Remove the tags the purchase added"
    NOTHING = "nothing", "Nothing (record it only)"


class Product(models.Model):
    """Something sold that gives access to an offering. A successful payment adds
    ``success_tags`` (none chosen: the offering's Purchase Success tag); a refund, a renewal
    that failed after Stripe's retries and a cancellation each do what their field says."""

    offering = models.ForeignKey(Offering, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    success_tags = models.ManyToManyField(
        Tag,
        blank=True,
        related_name="selling_products",
        help_text="Tags a successful purchase adds. Leave empty for the offering's Purchase "
        "Success tag.",
    )
    on_refund = models.CharField(
        max_length=16, choices=Consequence.choices, default=Consequence.REVOKE
    )
    on_failed_renewal = models.CharField(
        max_length=16, choices=Consequence.choices, default=Consequence.REVOKE
    )
    on_cancel = models.CharField(
        max_length=16, choices=Consequence.choices, default=Consequence.REVOKE
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PriceKind(models.TextChoices):
    ONE_TIME = "one_time", "One-time payment"
    PLAN = "plan", "Payment plan (N monthly instalments)"
    MONTHLY = "monthly", "Subscription, monthly"
    YEARLY = "yearly", "Subscription, yearly"


class Price(models.Model):
    """One way to pay for a product; its order form is ``/buy/<slug>/``. ``amount`` is one
    payment (one instalment of a plan). ``stripe_price_id`` is optional: without it Checkout
    is given the amount itself."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    slug = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=PriceKind.choices, default=PriceKind.ONE_TIME)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    instalments = models.PositiveSmallIntegerField(
        default=0, help_text="Payment plans only: how many monthly payments."
    )
    stripe_price_id = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["product", "amount"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="commerce_price_positive"),
            models.CheckConstraint(
                condition=~Q(kind="plan") | Q(instalments__gte=2),
                name="commerce_plan_instalments",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product}: {self.label}"

    @property
    def recurring(self) -> bool:
        return self.kind != PriceKind.ONE_TIME

    @property
    def is_plan(self) -> bool:
        """A payment plan: N monthly instalments, then no further charge."""
        match self.kind:
            case PriceKind.PLAN:
                return True
            case _:
                return False

    @property
    def amount_cents(self) -> int:
        return int((self.amount * 100).to_integral_value())

    @property
    def label(self) -> str:
        money = f"{self.amount} {self.currency}"
        return {
            PriceKind.ONE_TIME: money,
            PriceKind.PLAN: f"{self.instalments} × {money} a month",
            PriceKind.MONTHLY: f"{money} a month",
            PriceKind.YEARLY: f"{money} a year",
        }[self.kind]


class OrderStatus(models.TextChoices):
    PAID = "paid", "Paid"
    FLAGGED = "flagged", "Flagged (no access given)"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"


class Order(models.Model):
    """One payment a buyer made, from the site's Checkout or a cart's webhook. ``external_id``
    is the payment's own id (a Stripe invoice or payment intent, a cart's order id), unique,
    so a repeated notice never records a second order. A paid order points at the CRM's
    Kit-shaped ``Purchase``; a flagged one (unknown price, wrong currency or amount) has
    none and gave no access, and says why."""

    external_id = models.CharField(max_length=255, unique=True)
    source = models.CharField(max_length=32)
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="orders")
    offering = models.ForeignKey(
        Offering, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    price = models.ForeignKey(
        Price, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    purchase = models.OneToOneField(
        Purchase, on_delete=models.SET_NULL, null=True, blank=True, related_name="order"
    )
    description = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=20, choices=OrderStatus.choices)
    flag_reason = models.TextField(blank=True)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    amount_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    receipt_url = models.URLField(max_length=1000, blank=True)
    stripe_customer = models.CharField(max_length=100, blank=True)
    stripe_payment_intent = models.CharField(max_length=100, blank=True)
    stripe_subscription = models.CharField(max_length=100, blank=True)
    # The Checkout Session that took the payment: the thank-you page finds the order by it.
    checkout_session = models.CharField(max_length=255, blank=True, db_index=True)
    paid_at = models.DateTimeField()
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-paid_at", "-id"]
        indexes = [
            # A refund names the payment intent; a receipt arrives by it too.
            models.Index(
                fields=["stripe_payment_intent"],
                name="commerce_order_intent",
                condition=~Q(stripe_payment_intent=""),
            ),
            models.Index(fields=["subscriber", "-paid_at"], name="commerce_order_subscriber"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.status})"


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due (Stripe is retrying)"
    CANCELED = "canceled", "Canceled"
    COMPLETED = "completed", "Completed (payment plan paid in full)"


class Subscription(models.Model):
    """A Stripe subscription (a recurring price, or a payment plan's instalments)."""

    stripe_id = models.CharField(max_length=100, unique=True)
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="stripe_subscriptions"
    )
    price = models.ForeignKey(
        Price, on_delete=models.SET_NULL, null=True, blank=True, related_name="subscriptions"
    )
    stripe_customer = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=16, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE
    )
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    instalments_paid = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(
                fields=["subscriber"],
                name="commerce_subscription_live",
                condition=Q(status__in=["active", "past_due"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.stripe_id} ({self.status})"


class EventStatus(models.TextChoices):
    REFUSED = "refused", "Refused (bad signature)"
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FLAGGED = "flagged", "Flagged (recorded, no access)"
    IGNORED = "ignored", "Ignored (not an event Tessera acts on)"
    FAILED = "failed", "Failed"


class StripeEvent(models.Model):
    """One POST to the Stripe webhook URL. A verified event is stored once by Stripe's event
    id (a redelivery finds the row and changes nothing) and processed by a worker; a refused
    one (no or a wrong signature, a stale timestamp) is logged with why, and nothing else."""

    event_id = models.CharField(max_length=100, blank=True)
    type = models.CharField(max_length=100, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=EventStatus.choices)
    http_status = models.PositiveSmallIntegerField()
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    result = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event_id"], condition=~Q(event_id=""), name="commerce_event_once"
            )
        ]
        indexes = [
            # The worker's claim reads pending rows only; the log of done ones grows for ever.
            models.Index(fields=["id"], condition=Q(status="pending"), name="commerce_event_due")
        ]

    def __str__(self) -> str:
        return f"{self.type or 'refused'} {self.event_id}".strip()
