"""Building quizzes, choices and certificates in the admin, without JSON: a quiz's questions
with their options one a line (a leading * marks the right one), score bands and tags typed by
name. Each refusal names its place (checks.py)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from apps.tags.services import tag_get_or_create
from apps.tags.widgets import TagNameField

from .checks import (
    BandSpec,
    QuestionSpec,
    bands_check,
    certificate_variants_check,
    choice_options_check,
    option_lines_format,
    option_lines_parse,
    question_check,
)
from .models import (
    Certificate,
    CertificateTemplate,
    CertificateVariant,
    Choice,
    ChoiceOption,
    Question,
    Quiz,
    QuizAttempt,
    ScoreBand,
)
from .services.quizzes import question_options_set


class TagNamesForm(forms.ModelForm):
    """Tags typed by name (made when saved if new) in place of the FK selects:
    ``tag_fields`` maps the form's field to the model's."""

    tag_fields: dict[str, str] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field, model_field in self.tag_fields.items():
            tag = getattr(self.instance, model_field, None) if self.instance.pk else None
            if tag is not None:
                self.fields[field].initial = tag.name

    def tags_resolve(self) -> None:
        """Set the instance's tags from the names typed, through the tag service (a new name
        makes the tag); called by the admin just before it saves."""
        for field, model_field in self.tag_fields.items():
            name = self.cleaned_data.get(field)
            setattr(self.instance, model_field, tag_get_or_create(name=name)[0] if name else None)


class TagNamesAdmin(admin.ModelAdmin):
    """Resolves typed tag names (TagNamesForm) on the page's form and its inlines' forms,
    then saves as Django's admin does."""

    def save_model(self, request, obj, form, change):
        if isinstance(form, TagNamesForm):
            form.tags_resolve()
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        for sub in _live_forms(formset):
            if isinstance(sub, TagNamesForm):
                sub.tags_resolve()
        super().save_formset(request, form, formset, change)


def _live_forms(formset):
    return [
        f
        for f in formset.forms
        if f.is_valid() and f.cleaned_data and not f.cleaned_data.get("DELETE")
    ]


class QuestionForm(forms.ModelForm):
    options_text = forms.CharField(
        label="Options",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 40}),
        help_text="One option a line; start the right one(s) with *. "
        "Short answer: each accepted answer on its own line.",
    )

    class Meta:
        model = Question
        fields = ["position", "text", "kind"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            options = [(o.text, o.correct) for o in self.instance.options.all()]
            self.fields["options_text"].initial = option_lines_format(options, self.instance.kind)


class QuestionFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        live = _live_forms(self)
        if not live:
            raise ValidationError("A quiz needs at least one question: add one below.")
        for number, form in enumerate(live, 1):
            data = form.cleaned_data
            spec = QuestionSpec(
                text=data.get("text", ""),
                kind=data.get("kind"),
                options=option_lines_parse(data.get("options_text"), data.get("kind")),
            )
            try:
                question_check(spec, number)
            except ValidationError as exc:
                form.add_error("options_text", exc)
                raise


class QuestionInline(admin.TabularInline):
    model = Question
    form = QuestionForm
    formset = QuestionFormSet
    extra = 1

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("options")


class BandForm(TagNamesForm):
    tag_fields = {"tag_name": "tag"}
    tag_name = TagNameField(label="Tag")

    class Meta:
        model = ScoreBand
        fields = ["from_percent", "to_percent"]


class BandFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        bands = [
            BandSpec(
                f.cleaned_data["from_percent"],
                f.cleaned_data["to_percent"],
                f.cleaned_data["tag_name"],
            )
            for f in _live_forms(self)
            if {"from_percent", "to_percent", "tag_name"} <= f.cleaned_data.keys()
        ]
        bands_check(bands)


class BandInline(admin.TabularInline):
    model = ScoreBand
    form = BandForm
    formset = BandFormSet
    extra = 0
    verbose_name = "score band (from % included, to % excluded; the last ends at 100)"


class QuizForm(TagNamesForm):
    tag_fields = {"pass_tag_name": "pass_tag", "fail_tag_name": "fail_tag"}
    pass_tag_name = TagNameField(label="Pass tag", required=False)
    fail_tag_name = TagNameField(label="Fail tag", required=False)

    class Meta:
        model = Quiz
        fields = [
            "lesson",
            "title",
            "intro",
            "pass_percent",
            "attempts_allowed",
            "retake_delay_minutes",
            "show_wrong_answers",
            "completes_lesson",
        ]


@admin.register(Quiz)
class QuizAdmin(TagNamesAdmin):
    form = QuizForm
    list_display = ["title", "lesson", "pass_percent", "attempts_allowed"]
    search_fields = ["title", "lesson__title"]
    list_select_related = ["lesson"]
    inlines = [QuestionInline, BandInline]

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is not Question:
            return
        for sub in _live_forms(formset):
            if sub.has_changed() and sub.instance.pk:
                data = sub.cleaned_data
                question_options_set(
                    question=sub.instance,
                    options=option_lines_parse(data.get("options_text"), data.get("kind")),
                )


@admin.register(QuizAttempt)
class QuizAttemptAdmin(admin.ModelAdmin):
    list_display = ["quiz", "subscriber", "number", "score", "passed", "created_at"]
    list_filter = ["passed", "quiz"]
    list_select_related = ["quiz", "subscriber"]
    readonly_fields = ["quiz", "subscriber", "number", "answers", "score", "passed", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ChoiceOptionForm(TagNamesForm):
    tag_fields = {"tag_name": "tag"}
    tag_name = TagNameField(label="Tag it adds")

    class Meta:
        model = ChoiceOption
        fields = ["position", "label"]


class ChoiceOptionFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        choice_options_check(
            [
                (f.cleaned_data.get("label", ""), f.cleaned_data.get("tag_name"))
                for f in _live_forms(self)
            ]
        )


class ChoiceOptionInline(admin.TabularInline):
    model = ChoiceOption
    form = ChoiceOptionForm
    formset = ChoiceOptionFormSet
    extra = 2


@admin.register(Choice)
class ChoiceAdmin(TagNamesAdmin):
    list_display = ["question", "offering", "lesson", "changeable"]
    list_select_related = ["offering", "lesson"]
    fields = ["offering", "lesson", "question", "changeable"]
    inlines = [ChoiceOptionInline]

    def save_model(self, request, obj, form, change):
        if obj.lesson_id and obj.lesson.offering_id != obj.offering_id:
            obj.lesson = None
        super().save_model(request, obj, form, change)


class VariantForm(TagNamesForm):
    tag_fields = {"tag_name": "tag"}
    tag_name = TagNameField(label="For members with the tag", required=False)

    class Meta:
        model = CertificateVariant
        fields = ["position", "level", "html", "css"]


class VariantFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        certificate_variants_check(
            [
                (
                    f.cleaned_data.get("level", ""),
                    f.cleaned_data.get("tag_name"),
                    f.cleaned_data.get("html", ""),
                    f.cleaned_data.get("css", ""),
                )
                for f in _live_forms(self)
            ]
        )


class VariantInline(admin.StackedInline):
    model = CertificateVariant
    form = VariantForm
    formset = VariantFormSet
    extra = 0
    min_num = 1


class CertificateTemplateForm(TagNamesForm):
    tag_fields = {"rule_tag_name": "rule_tag"}
    rule_tag_name = TagNameField(label="Tag (rule “the member has a tag”)", required=False)

    class Meta:
        model = CertificateTemplate
        fields = ["offering", "name", "rule", "rule_quiz"]

    def clean(self):
        data = super().clean()
        if data.get("rule") == "tag" and not data.get("rule_tag_name"):
            self.add_error("rule_tag_name", "Name the tag that issues the certificate.")
        if data.get("rule") == "quiz_passed" and not data.get("rule_quiz"):
            self.add_error("rule_quiz", "Choose the quiz whose pass issues the certificate.")
        return data


@admin.register(CertificateTemplate)
class CertificateTemplateAdmin(TagNamesAdmin):
    form = CertificateTemplateForm
    list_display = ["name", "offering", "rule"]
    list_select_related = ["offering"]
    inlines = [VariantInline]


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "offering_name", "level", "issued_at"]
    search_fields = ["code", "name", "subscriber__email"]
    readonly_fields = [
        "template",
        "variant",
        "subscriber",
        "code",
        "name",
        "offering_name",
        "level",
        "issued_at",
    ]
    exclude = ["html"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
