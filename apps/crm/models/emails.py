"""The outbox: every email to one subscriber, the layouts around email bodies, and what
providers reported about sent emails."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from .subscribers import Subscriber


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
        from ..email_html import NO_UNSUBSCRIBE_MESSAGE, layout_has_unsubscribe

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


@dataclass(frozen=True)
class EmailKindTraits:
    """What a kind of email is. ``bulk``: sequences, broadcasts, automations; it carries
    List-Unsubscribe and needs an unsubscribe link in its layout (not the same as
    ``EmailMessage.is_marketing``: a purchase sequence's email is bulk, not marketing).
    ``transactional``: asked for by the person (a link, a confirmation); never suppressed,
    never marketing. ``one_time_link``: its body holds a working one-time link; once sent,
    the stored copy keeps only the link's origin, so nobody who can read the outbox can log
    in as the member."""

    bulk: bool = False
    transactional: bool = False
    one_time_link: bool = False


_BULK, _NO_TRAITS = EmailKindTraits(bulk=True), EmailKindTraits()
EMAIL_KIND_TRAITS = {
    EmailKind.SEQUENCE: _BULK,
    EmailKind.BROADCAST: _BULK,
    EmailKind.AUTOMATION: _BULK,
    EmailKind.SYSTEM: EmailKindTraits(transactional=True),
    EmailKind.LOGIN_LINK: EmailKindTraits(transactional=True, one_time_link=True),
    EmailKind.PASSWORD: EmailKindTraits(transactional=True, one_time_link=True),
    EmailKind.EMAIL_CHANGE: EmailKindTraits(transactional=True, one_time_link=True),
}


def email_kind_traits(kind: str) -> EmailKindTraits:
    """The traits of a kind (none for a kind it does not know)."""
    return EMAIL_KIND_TRAITS.get(kind, _NO_TRAITS)


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
        "SequenceEmail", on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
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

    @property
    def is_bulk(self) -> bool:
        return email_kind_traits(self.kind).bulk

    @property
    def is_transactional(self) -> bool:
        return email_kind_traits(self.kind).transactional

    @property
    def has_one_time_link(self) -> bool:
        """Its body holds a working one-time link (cut from the stored copy once sent)."""
        return email_kind_traits(self.kind).one_time_link


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
