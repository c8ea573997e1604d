"""Kit's broadcasts: one-off emails to everyone matching a condition."""

from django.db import models
from django.db.models import Q

from .emails import EmailTemplate, HtmlBody


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
