"""Sign-up forms and who subscribed through them; purchases as Kit's v3 API records them."""

from django.db import models

from .subscribers import Subscriber


class FormKind(models.TextChoices):
    HOSTED = "hosted", "Hosted (landing page)"
    EMBED = "embed", "Embedded"


class Form(models.Model):
    """A sign-up form. Its hosted page subscribes, tags (``tag_ids``, applied by the tags app
    from the form_subscribe event) and starts automations; with double opt-in the subscriber
    confirms by email first."""

    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=8, choices=FormKind.choices, default=FormKind.HOSTED)
    title = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    sign_up_button_text = models.CharField(max_length=100, default="Subscribe")
    success_message = models.CharField(max_length=255, default="Thanks! You're on the list.")
    double_opt_in = models.BooleanField(default=False)
    tag_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class FormSubscription(models.Model):
    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="subscriptions")
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="form_subscriptions"
    )
    state = models.CharField(max_length=10, default="inactive")
    # Tags asked for with the subscription (the API's ``tags``), applied on confirmation.
    tag_ids = models.JSONField(default=list, blank=True)
    referrer = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["form", "subscriber"], name="crm_one_form_sub")
        ]

    def __str__(self) -> str:
        return f"{self.subscriber_id} via form {self.form_id} ({self.state})"


class Purchase(models.Model):
    """A purchase as Kit's v3 API records it."""

    transaction_id = models.CharField(max_length=255, unique=True)
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="purchases")
    email_address = models.EmailField()
    status = models.CharField(max_length=32, default="paid")
    currency = models.CharField(max_length=3, default="USD")
    transaction_time = models.DateTimeField()
    subtotal = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    tax = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    shipping = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    discount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    products = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.transaction_id
