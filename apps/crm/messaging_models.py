"""Email, sequences, forms, purchases, broadcasts and Kit's outbound hooks (crm's messaging)."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from .models import Subscriber, WebhookDelivery


class BodyFormat(models.TextChoices):
    MARKDOWN = "markdown", "Markdown"
    HTML = "html", "HTML (rich editor)"


class EmailLayout(models.Model):
    """Kit's "email template": the HTML around every marketing email's content (header,
    ``{{ content }}``, footer with the sender's address and the unsubscribe link). Liquid
    works in it. The default one serves emails that name none."""

    name = models.CharField(max_length=255, unique=True)
    html = models.TextField(
        help_text="Liquid. Must hold {{ content }} and {{ unsubscribe_url }} (or "
        "{{ unsubscribe_link }}); also {{ sender_address }}, {{ subscriber_preferences_url }}."
    )
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="crm_one_default_layout"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        from .email_html import NO_UNSUBSCRIBE_MESSAGE, layout_has_unsubscribe

        errors = []
        if "content" not in self.html:
            errors.append("A layout needs {{ content }} where the email's body goes.")
        if not layout_has_unsubscribe(self.html):
            errors.append(NO_UNSUBSCRIBE_MESSAGE)
        if errors:
            raise ValidationError({"html": errors})


class HtmlBody(models.Model):
    """How an email's body is written (Markdown or the rich editor's HTML) and the layout
    around it: shared by sequence emails and broadcasts."""

    body_format = models.CharField(
        max_length=8, choices=BodyFormat.choices, default=BodyFormat.MARKDOWN
    )
    layout = models.ForeignKey(
        EmailLayout,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text="Empty: the default layout.",
    )
    # Tessera's own tracking (so SMTP users get clicks too): links become signed redirects,
    # and an invisible image reports opens (off by default: privacy, and Apple Mail's
    # prefetching makes opens a rough figure).
    track_clicks = models.BooleanField(default=True)
    track_opens = models.BooleanField(default=False)

    class Meta:
        abstract = True


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


class EmailStatus(models.TextChoices):
    HELD = "held", "Held (not sent: see error)"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Not sent (unsubscribed or bounced)"
    CANCELLED = "cancelled", "Cancelled by hand (not sent)"


class EmailKind(models.TextChoices):
    SEQUENCE = "sequence", "Sequence"
    BROADCAST = "broadcast", "Broadcast"
    AUTOMATION = "automation", "Automation"
    SYSTEM = "system", "Transactional: subscription confirmation"
    LOGIN_LINK = "login_link", "Transactional: login link"
    PASSWORD = "password", "Transactional: password set or reset"
    EMAIL_CHANGE = "email_change", "Transactional: email address change"


# Sent because the person asked for them (a link, a confirmation): never suppressed, never
# marketing.
TRANSACTIONAL_KINDS = (
    EmailKind.SYSTEM,
    EmailKind.LOGIN_LINK,
    EmailKind.PASSWORD,
    EmailKind.EMAIL_CHANGE,
)
# Their body holds a working one-time link: once sent, the stored copy keeps only the
# link's origin, so nobody who can read the outbox can log in as the member.
SECRET_LINK_KINDS = (EmailKind.LOGIN_LINK, EmailKind.PASSWORD, EmailKind.EMAIL_CHANGE)


class EmailMessage(models.Model):
    """One email to one subscriber, rendered, and what became of it (the outbox and the
    delivery log). ``key`` (unique) names what owes it, so nothing is sent twice by design.
    ``uncertain``: a worker died after claiming it, so the SMTP server may have it already;
    it was sent again and may have arrived twice."""

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="emails")
    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=EmailKind.choices)
    is_marketing = models.BooleanField(default=True)
    to_email = models.EmailField()
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    # The HTML part ("" for a text-only email); the text part above is generated from it.
    body_html = models.TextField(blank=True)
    # The sender, when not the site's DEFAULT_FROM_EMAIL (a broadcast's own address).
    from_email = models.CharField(max_length=320, blank=True)
    # The provider's id for it (anymail's message_id): its tracking events name it.
    provider_message_id = models.CharField(max_length=255, blank=True, db_index=True)
    track_clicks = models.BooleanField(default=False)
    track_opens = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    uncertain = models.BooleanField(default=False)
    # Queued: when to send. Held: when the hold sweep renders it again to see whether its cause
    # is gone (the login exists now); ``hold_checks`` counts those tries (for the backoff).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    hold_checks = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.PositiveIntegerField(default=0)
    # The worker process holding the lease (apps/core/leases.py); "" when none beats for it.
    lease_holder = models.CharField(max_length=200, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    sequence_email = models.ForeignKey(
        SequenceEmail, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    broadcast = models.ForeignKey(
        "Broadcast", on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="crm_email_due", condition=Q(status="queued")
            ),
            models.Index(
                fields=["locked_until"], name="crm_email_leased", condition=Q(status="sending")
            ),
            models.Index(fields=["subscriber", "-id"], name="crm_email_subscriber"),
            # The hold sweep's claim and Health's count: held rows only (few, and short-lived).
            models.Index(
                fields=["next_attempt_at"], name="crm_email_held", condition=Q(status="held")
            ),
        ]
        # Bodies hold live set-password links: reading them is a right of its own.
        permissions = [("view_emailmessage_body", "Can read email bodies in the outbox")]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to_email} ({self.status})"


class ActivityKind(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Complained (marked as spam)"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed at the provider"


class EmailActivity(models.Model):
    """What a provider's tracking webhook (or Tessera's own click redirect and open pixel)
    reported about a sent email. Unique on (source, event_id): a provider's retry of the
    same event is recorded once. The reports count these rows."""

    source = models.CharField(max_length=32)
    event_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=ActivityKind.choices)
    message = models.ForeignKey(
        EmailMessage, on_delete=models.CASCADE, null=True, blank=True, related_name="activity"
    )
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="email_activity"
    )
    url = models.URLField(max_length=2000, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="crm_activity_once")
        ]
        indexes = [
            models.Index(fields=["message", "kind"], name="crm_activity_message"),
            models.Index(fields=["subscriber", "kind", "-at"], name="crm_activity_subscriber"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.source}) for email {self.message_id}"


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


class EmailTemplate(models.Model):
    """An email layout broadcasts can name (Kit's email templates): the HTML around the
    email's content, which ``{{ content }}`` marks. One may be the default."""

    name = models.CharField(max_length=255, unique=True)
    category = models.CharField(max_length=32, default="Classic")
    is_default = models.BooleanField(default=False)
    html = models.TextField(blank=True, default="{{ content }}")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BroadcastStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    COMPLETED = "completed", "Completed"


class Broadcast(HtmlBody):
    """A one-off email to everyone matching ``condition`` (the tags compiler; empty = all
    active subscribers who take broadcasts), now or at ``send_at``."""

    subject = models.CharField(max_length=255)
    content = models.TextField(blank=True)
    description = models.TextField(blank=True)
    email_address = models.EmailField(blank=True)
    public = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True)
    send_at = models.DateTimeField(null=True, blank=True)
    condition = models.JSONField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=BroadcastStatus.choices, default=BroadcastStatus.DRAFT
    )
    # Kit's broadcast fields that earlier answers dropped (v3 and v4 store them now).
    email_template = models.ForeignKey(
        EmailTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="broadcasts"
    )
    thumbnail_url = models.URLField(max_length=2000, blank=True)
    thumbnail_alt = models.CharField(max_length=255, blank=True)
    preview_text = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["send_at"], name="crm_broadcast_due", condition=Q(status="scheduled")
            )
        ]

    def __str__(self) -> str:
        return self.subject


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
