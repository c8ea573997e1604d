"""Quizzes, choices (tracks) and certificates: what a member does in the course player that
adds tags (a score band, a pass, a track) and what they take away (a certificate)."""

from django.core.validators import MaxValueValidator
from django.db import models

from apps.crm.models import Subscriber
from apps.offerings.models import Lesson, Offering
from apps.tags.models import Tag

PERCENT = [MaxValueValidator(100)]


class Quiz(models.Model):
    """Questions under a lesson, scored on the server. The latest attempt decides the member's
    outcome tags: its score band's tag is added and the other bands' removed, the pass tag or
    the fail tag likewise. Passing completes the lesson when ``completes_lesson`` is set (and
    then the lesson's own "complete" button gives way to the quiz)."""

    lesson = models.OneToOneField(Lesson, on_delete=models.CASCADE, related_name="quiz")
    title = models.CharField(max_length=200)
    intro = models.TextField(blank=True)
    pass_percent = models.PositiveSmallIntegerField(
        default=70, validators=PERCENT, help_text="The score (in %) that passes."
    )
    attempts_allowed = models.PositiveSmallIntegerField(
        default=0, help_text="How many attempts a member has; 0 for no limit."
    )
    retake_delay_minutes = models.PositiveIntegerField(
        default=0, help_text="Minutes a member waits after an attempt before the next one."
    )
    show_wrong_answers = models.BooleanField(
        default=True, help_text="Show the member which questions they got wrong (never the key)."
    )
    completes_lesson = models.BooleanField(
        default=True, help_text="Passing completes the lesson (and opens the next one, in order)."
    )
    pass_tag = models.ForeignKey(
        Tag, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    fail_tag = models.ForeignKey(
        Tag, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "quizzes"

    def __str__(self) -> str:
        return self.title


class QuestionKind(models.TextChoices):
    SINGLE = "single", "Single choice"
    MULTIPLE = "multiple", "Multiple choice"
    SHORT = "short", "Short answer (exact match)"


class QuestionTraits:
    """What a question kind means for the page and the scoring: ``typed`` (the member types
    the answer; the options are the accepted answers, never shown), ``one`` (one option may
    be chosen and marked right), ``input`` (the option's input type on the page)."""

    def __init__(self, *, typed: bool = False, one: bool = False, input: str = "radio"):
        self.typed, self.one, self.input = typed, one, input


QUESTION_TRAITS = {
    QuestionKind.SINGLE: QuestionTraits(one=True),
    QuestionKind.MULTIPLE: QuestionTraits(input="checkbox"),
    QuestionKind.SHORT: QuestionTraits(typed=True, one=True, input="text"),
}


class Question(models.Model):
    """One question. Its options are the choices offered (single, multiple), or for a short
    answer the accepted answers (matched ignoring case and spacing), never shown."""

    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveIntegerField(default=0)
    text = models.CharField(max_length=500)
    kind = models.CharField(max_length=16, choices=QuestionKind.choices, default="single")

    class Meta:
        ordering = ["quiz", "position", "pk"]

    def __str__(self) -> str:
        return self.text

    @property
    def traits(self) -> QuestionTraits:
        return QUESTION_TRAITS[QuestionKind(self.kind)]


class Option(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="options")
    position = models.PositiveIntegerField(default=0)
    text = models.CharField(max_length=300)
    correct = models.BooleanField(default=False)

    class Meta:
        ordering = ["question", "position", "pk"]

    def __str__(self) -> str:
        return self.text


class ScoreBand(models.Model):
    """Scores from ``from_percent`` (included) up to ``to_percent`` (excluded; 100 included)
    add ``tag``. A quiz's bands cover 0 to 100 without gap or overlap."""

    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="bands")
    from_percent = models.PositiveSmallIntegerField(validators=PERCENT)
    to_percent = models.PositiveSmallIntegerField(validators=PERCENT)
    tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["quiz", "from_percent"]

    def __str__(self) -> str:
        return f"{self.from_percent}–{self.to_percent} %"

    def holds(self, score: float) -> bool:
        return self.from_percent <= score < self.to_percent or (
            self.to_percent == 100 and score == 100
        )


class QuizAttempt(models.Model):
    """One submitted attempt, kept whole: ``answers`` holds each question's text, what the
    member gave and whether it was right (readable after the quiz is edited)."""

    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="attempts")
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="quiz_attempts"
    )
    number = models.PositiveIntegerField()
    answers = models.JSONField(default=list)
    score = models.DecimalField(max_digits=5, decimal_places=2)
    passed = models.BooleanField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["quiz", "subscriber", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["quiz", "subscriber", "number"], name="learning_attempt_number_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.quiz} #{self.number}: {self.score} %"

    @property
    def wrong(self) -> list[int]:
        return [i for i, answer in enumerate(self.answers, 1) if not answer["correct"]]


class Choice(models.Model):
    """A question whose options each add a tag and remove the others' (a track). Shown on
    the member's first visit to the offering, or with ``lesson`` set, on that lesson."""

    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="choices")
    lesson = models.ForeignKey(
        Lesson,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="choices",
        help_text="Empty: asked on the first visit to the offering, before anything else.",
    )
    question = models.CharField(max_length=300)
    changeable = models.BooleanField(
        default=True, help_text="The member may change their choice later."
    )

    def __str__(self) -> str:
        return self.question


class ChoiceOption(models.Model):
    choice = models.ForeignKey(Choice, on_delete=models.CASCADE, related_name="options")
    position = models.PositiveIntegerField(default=0)
    label = models.CharField(max_length=200)
    tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["choice", "position", "pk"]

    def __str__(self) -> str:
        return self.label


class ChoicePick(models.Model):
    """A member's current answer to a choice (the event log keeps earlier ones)."""

    choice = models.ForeignKey(Choice, on_delete=models.CASCADE, related_name="picks")
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="choice_picks"
    )
    option = models.ForeignKey(ChoiceOption, on_delete=models.CASCADE, related_name="picks")
    picked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["choice", "subscriber"], name="learning_pick_once")
        ]

    def __str__(self) -> str:
        return f"{self.subscriber_id} chose {self.option_id}"


class CompletionRule(models.TextChoices):
    ALL_LESSONS = "all_lessons", "Every lesson of the offering is complete"
    TAG = "tag", "The member has a tag"
    QUIZ_PASSED = "quiz_passed", "The member passed a quiz"


class CertificateTemplate(models.Model):
    """An offering's certificate, issued once to each member when ``rule`` holds, in the
    first variant whose tag they hold (by position), else the variant without a tag."""

    offering = models.ForeignKey(
        Offering, on_delete=models.CASCADE, related_name="certificate_templates"
    )
    name = models.CharField(max_length=200)
    rule = models.CharField(
        max_length=16, choices=CompletionRule.choices, default=CompletionRule.ALL_LESSONS
    )
    rule_tag = models.ForeignKey(
        Tag, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rule_quiz = models.ForeignKey(
        Quiz, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return self.name


DEFAULT_CERTIFICATE_HTML = """<div class="frame">
  <p class="kicker">Certificate of completion</p>
  <h1>{{ name }}</h1>
  <p>has completed</p>
  <h2>{{ offering }}</h2>
  <p class="level">{{ level }}</p>
  <p class="meta">{{ date }} · Verification code {{ verification_code }}</p>
  <p class="meta">{{ verification_url }}</p>
</div>"""

DEFAULT_CERTIFICATE_CSS = """@page { size: A4 landscape; margin: 12mm; }
body { font-family: "DejaVu Serif", serif; color: #1f2933; }
.frame { border: 6px double #7c5c1e; padding: 26mm 14mm 0; text-align: center; height: 158mm; }
.kicker { letter-spacing: .3em; text-transform: uppercase; color: #7c5c1e; font-size: 13pt; }
h1 { font-size: 42pt; margin: 12mm 0 4mm; }
h2 { font-size: 26pt; margin: 4mm 0 8mm; }
.level { font-size: 18pt; font-weight: bold; color: #7c5c1e; margin-bottom: 16mm; }
.meta { font-size: 9pt; color: #52606d; margin: 1mm 0; }"""


class CertificateVariant(models.Model):
    """One look of a certificate (VIP, Standard): HTML and CSS with Liquid variables
    ``name``, ``offering``, ``level``, ``date``, ``verification_code``, ``verification_url``."""

    template = models.ForeignKey(
        CertificateTemplate, on_delete=models.CASCADE, related_name="variants"
    )
    position = models.PositiveIntegerField(default=0)
    level = models.CharField(max_length=100, help_text="Shown as {{ level }}: VIP, Standard…")
    tag = models.ForeignKey(
        Tag,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Members with this tag get this variant; empty: everyone else.",
    )
    html = models.TextField(default=DEFAULT_CERTIFICATE_HTML)
    css = models.TextField(default=DEFAULT_CERTIFICATE_CSS, blank=True)

    class Meta:
        ordering = ["template", "position", "pk"]

    def __str__(self) -> str:
        return self.level


class Certificate(models.Model):
    """A certificate issued to one member, once per template. ``html`` is the page as
    rendered when issued (editing the template later changes no issued certificate); the PDF
    is made from it. ``code`` verifies it publicly (name, offering, date; nothing else)."""

    template = models.ForeignKey(
        CertificateTemplate, on_delete=models.CASCADE, related_name="certificates"
    )
    variant = models.ForeignKey(
        CertificateVariant, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="certificates"
    )
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=300)
    offering_name = models.CharField(max_length=200)
    level = models.CharField(max_length=100)
    html = models.TextField()
    issued_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["template", "subscriber"], name="learning_certificate_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.offering_name} – {self.level} ({self.code})"
