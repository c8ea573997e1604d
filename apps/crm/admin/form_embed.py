"""The form admin's additions: the embed snippet to paste on the creator's own site, and how
many bot posts were refused. (Tags are picked by name by the tags app's FormTagsForm.)"""

from django.conf import settings
from django.utils.html import format_html

from ..embed import FORM_SPAM_REFUSED, embed_snippet
from ..models import Event


class FormEmbedMixin:
    """Adds the snippet and the refused-bot count to FormAdmin."""

    readonly_fields = ["embed_code", "bots_refused"]

    def embed_code(self, obj):
        if obj is None or not obj.pk:
            return "Save the form first; its embed code appears here."
        snippet = embed_snippet(obj, settings.SITE_URL.rstrip("/"))
        return format_html(
            '<textarea id="embed-snippet" readonly rows="12" cols="90" '
            '>{}</textarea><p class="help">Paste this on any page of '
            "your website. It is a plain HTML form (it works with scripts off) and a small "
            "script that submits it in place. It posts from any site; a hidden field catches "
            "bots, and one network may post 20 times a minute.</p>",
            snippet,
        )

    embed_code.short_description = "embed code"

    def bots_refused(self, obj):
        if obj is None or not obj.pk:
            return "-"
        return Event.objects.filter(type=FORM_SPAM_REFUSED, payload__form_id=obj.pk).count()

    bots_refused.short_description = "bot posts refused"
