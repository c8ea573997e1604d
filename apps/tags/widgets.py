"""The tag name input every admin form uses: existing tags suggested as the name is typed,
and a note when the name typed will create a new tag (``static/tags/tag_input.js``)."""

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse

from .models import Tag
from .services import tag_name_clean, tag_name_key


class TagNameInput(forms.TextInput):
    def __init__(self, attrs=None, *, many: bool = False):
        super().__init__({"data-tag-input": "many" if many else "one", "size": 40, **(attrs or {})})

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].setdefault("data-suggest-url", reverse("admin:tags_tag_suggest"))
        return context

    class Media:
        js = ["tags/tag_input.js"]
        css = {"all": ["tags/tag_input.css"]}


class TagNameField(forms.CharField):
    """A tag typed by name. With ``existing``, the name must be a tag's (cleaned to the
    ``Tag``); without, the cleaned name, which the caller gets or creates through
    ``tag_get_or_create`` when it acts (validation writes nothing)."""

    widget = TagNameInput

    def __init__(self, *, existing: bool = False, **kwargs):
        self.existing = existing
        super().__init__(max_length=255, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        try:
            name = tag_name_clean(value)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        if not self.existing:
            return name
        tag = Tag.objects.filter(name_key=tag_name_key(name)).first()
        if tag is None:
            raise forms.ValidationError(
                f"No tag is named {name!r}: choose one of the suggestions (names ignore case, "
                "spacing and the kind of dash)."
            )
        return tag
