from django.core.validators import FileExtensionValidator
from django.db import models
from django.db.models import Q
from django_prose_editor.fields import ProseEditorField

from apps.crm.models import Subscriber
from apps.tags.models import Tag


class OfferingKind(models.TextChoices):
    STANDALONE = "standalone", "Standalone course"
    STAGE_RELEASE = "stage_release", "Stage-release course"
    MEMBERSHIP = "membership", "Membership level"


class Progression(models.TextChoices):
    FREE = "free", "Any open lesson, in any order"
    IN_ORDER = "in_order", "In order: a lesson opens when the previous one is complete"


IMAGE_EXTENSIONS = ["jpg", "jpeg", "png", "webp", "gif"]
# The editor's toolbar; the server-side allowlist is apps/offerings/content.py's, which also
# keeps video embeds (the Embed extension below is ours: static/offerings/embed.js).
LESSON_EDITOR_EXTENSIONS = {
    "Bold": True,
    "Italic": True,
    "Underline": True,
    "Strike": True,
    "Heading": {"levels": [2, 3, 4]},
    "BulletList": True,
    "OrderedList": True,
    "ListItem": True,
    "Blockquote": True,
    "HorizontalRule": True,
    "HardBreak": True,
    "Link": {"enableTarget": True},
    "Image": True,
    "HTML": True,
    "Embed": True,
}


class Offering(models.Model):
    """Something a member can be given access to. Its tags are its permissions, named by
    convention ("<name> – Base Access", "– Instant Access", "– Revoke Access",
    "– Purchase Success"); the revoke tag always wins, instant access skips the drip."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    kind = models.CharField(
        max_length=16, choices=OfferingKind.choices, default=OfferingKind.STAGE_RELEASE
    )
    description = models.TextField(blank=True)
    base_tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="+")
    instant_tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="+")
    revoke_tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="+")
    purchase_tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="+")
    # The guide's recipe: a generated password, hashed for the login and also written in plain
    # text to this CRM field for the welcome email. Off by default (a set-password link instead).
    store_password = models.BooleanField(default=False)
    password_field_key = models.CharField(max_length=100, default="accessally_password")
    # The dashboard card's and offering page's picture, through the default storage; served
    # by the app to members with access, never from a public path.
    image = models.FileField(
        upload_to="offerings/images/",
        blank=True,
        validators=[FileExtensionValidator(IMAGE_EXTENSIONS)],
        help_text="A JPEG, PNG, WebP or GIF picture shown on the member's dashboard.",
    )
    # AccessAlly's objectives gating: with "in order" a lesson opens only once the one before
    # it is complete.
    progression = models.CharField(
        max_length=16, choices=Progression.choices, default=Progression.FREE
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ReleaseRule(models.TextChoices):
    IMMEDIATELY = "immediately", "Immediately"
    DAYS_AFTER = "days_after", "N days after access was granted"
    ON_DATE = "on_date", "On a date"
    TAG_ONLY = "tag_only", "Only when its tag is added (no schedule)"


class Module(models.Model):
    """A part of an offering, released to each member by its rule. Visible to a member who has
    its access tag, the offering's base tag (first module) or instant tag, and not the revoke
    tag."""

    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="modules")
    position = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=200)
    release_rule = models.CharField(
        max_length=16, choices=ReleaseRule.choices, default=ReleaseRule.IMMEDIATELY
    )
    release_days = models.PositiveIntegerField(default=0)
    release_date = models.DateTimeField(null=True, blank=True)
    access_tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["offering", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["offering", "position"], name="offerings_module_pos")
        ]

    def __str__(self) -> str:
        return f"{self.offering}: {self.title}"


class Lesson(models.Model):
    """A page inside a module. ``body`` is stored sanitized (nh3, content.py's allowlist);
    completing the lesson adds ``completion_tag`` when one is set. ``offering`` repeats the
    module's so the database itself keeps slugs unique within an offering (the lesson's
    address is /offerings/<offering>/<lesson>/)."""

    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="lessons")
    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="lessons")
    position = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=200,
        blank=True,
        help_text="The lesson's address; left empty, it is made from the title.",
    )
    body = ProseEditorField(blank=True, extensions=LESSON_EDITOR_EXTENSIONS, sanitize=False)
    video_url = models.URLField(
        blank=True,
        max_length=500,
        help_text="A YouTube, Vimeo, Wistia, Loom or Bunny Stream address, shown above the text.",
    )
    completion_tag = models.ForeignKey(
        Tag, on_delete=models.SET_NULL, null=True, blank=True, related_name="completing_lessons"
    )

    class Meta:
        ordering = ["module", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["offering", "slug"], name="offerings_lesson_slug")
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        if self.module_id and not self.offering_id:
            self.offering_id = self.module.offering_id
        super().save(*args, **kwargs)


class LessonAttachment(models.Model):
    """A file members download from a lesson (a worksheet, slides). Stored through the default
    storage (local files or S3) and served only through the app, to members with access."""

    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="attachments")
    title = models.CharField(max_length=200, blank=True)
    file = models.FileField(upload_to="lessons/attachments/%Y/%m/")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["lesson", "position", "pk"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.title or self.file.name.rsplit("/", 1)[-1]


class AccessGrant(models.Model):
    """A subscriber's access to an offering, from ``granted_at`` (the drip's anchor, kept
    across a revoke and a later re-grant: the drip continues, it does not restart) until
    ``revoked_at``. ``next_release_at`` is the drip timer: when the next scheduled module is
    due for this member."""

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="grants")
    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="grants")
    granted_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=64, blank=True)
    next_release_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "offering"], name="offerings_one_grant")
        ]
        indexes = [
            # The drip sweep reads only active grants with a module still to come.
            models.Index(
                fields=["next_release_at"],
                name="offerings_grant_drip_due",
                condition=Q(revoked_at__isnull=True, next_release_at__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} → {self.offering}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ModuleRelease(models.Model):
    """When a module was released to one member, and how. Stored once, never recomputed from
    the module's rule, so editing a rule later re-locks nothing."""

    grant = models.ForeignKey(AccessGrant, on_delete=models.CASCADE, related_name="releases")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="releases")
    released_at = models.DateTimeField()
    source = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["grant", "module"], name="offerings_release_once")
        ]

    def __str__(self) -> str:
        return f"{self.module} released {self.released_at:%Y-%m-%d %H:%M}"


class LessonProgress(models.Model):
    """A member completed a lesson."""

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="lesson_progress"
    )
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="progress")
    completed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "lesson"], name="offerings_progress_once")
        ]

    def __str__(self) -> str:
        return f"{self.subscriber_id} completed {self.lesson_id}"
