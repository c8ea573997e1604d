from django.db import models
from django.utils import timezone

from apps.crm.models import Subscriber


class Tag(models.Model):
    """A label on subscribers, and in Tessera also a permission (offerings grant by tag).

    ``name`` is kept as first typed, with surrounding and repeated spaces folded;
    ``name_key`` is its folded form (case, the dash family and the spaces around a dash
    ignored: ``services.tag_name_fold``) and carries the uniqueness, so " Module 1 Complete"
    and "module 1 complete" are one tag, as are "Course – Paid" and "course-paid".
    """

    name = models.CharField(max_length=255)
    name_key = models.CharField(max_length=255, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name_key"]

    def __str__(self) -> str:
        return self.name


class Tagging(models.Model):
    """Subscriber has tag, since ``created_at``, added by ``source`` (admin, api, automation:12...).

    Removing a tag deletes the row; the event log keeps the history.
    """

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="taggings")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="taggings")
    created_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            # Also the index for "which tags has this subscriber" (subscriber first).
            models.UniqueConstraint(fields=["subscriber", "tag"], name="tags_one_tagging"),
        ]
        indexes = [
            # "Who has this tag": segment counts, the condition compiler's EXISTS probes.
            models.Index(fields=["tag", "subscriber"], name="tags_tagging_by_tag"),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber_id} has {self.tag_id}"


class Segment(models.Model):
    """A saved audience: everyone matching ``condition`` (the tags compiler's JSON, see
    ``apps.tags.conditions``), computed when read. Kit's v4 API lists these."""

    name = models.CharField(max_length=255, unique=True)
    condition = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
