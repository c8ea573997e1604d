"""HTML email: a body (Markdown or HTML) inside a creator's layout, cleaned, with a text part
generated from it, and the headers inboxes ask of bulk mail.

Order of work, for one subscriber: Liquid renders the body, Markdown (if chosen) turns it
into HTML, the layout is rendered with the body as ``{{ content }}``, and nh3 cleans the whole
(a subscriber's name that reads like HTML stays text-like, and no layout can carry a script).
The text part is read off the cleaned HTML, links written out, so ``{{ unsubscribe_link }}``
becomes "Unsubscribe (https://...)" there instead of raw ``<a href>`` markup.
"""

import re
from dataclasses import dataclass
from html.parser import HTMLParser

import markdown
import nh3
from django.conf import settings

from .liquid import TemplateError, template_render

BODY_TEXT = "text"
BODY_MARKDOWN = "markdown"
BODY_HTML = "html"

# Kit's default template, in spirit: the sender's name on top, the content, and a footer with
# the postal address (CAN-SPAM asks for it) and the unsubscribe and preferences links.
BUILTIN_LAYOUT = """<div style="max-width:600px;margin:0 auto;\
font-family:Helvetica,Arial,sans-serif;color:#222;line-height:1.5">
<p style="font-weight:bold;color:#555">{{ sender_name }}</p>
{{ content }}
<hr style="border:none;border-top:1px solid #ddd;margin-top:32px">
<p style="font-size:12px;color:#777">{{ sender_address }}<br>
<a href="{{ unsubscribe_url }}">Unsubscribe</a> ·
<a href="{{ subscriber_preferences_url }}">Update your preferences</a></p>
</div>"""

# What a layout must contain to carry marketing email (one of them).
UNSUBSCRIBE_MARKERS = ("unsubscribe_url", "unsubscribe_link")
NO_UNSUBSCRIBE_MESSAGE = (
    "A marketing email needs an unsubscribe link, and this layout has none: add "
    "{{ unsubscribe_url }} (or {{ unsubscribe_link }}) to its footer."
)

# Email HTML: nh3's defaults plus the table layout and inline styles mail clients need.
_TAGS = set(nh3.ALLOWED_TAGS) | {
    "table",
    "thead",
    "tbody",
    "tr",
    "td",
    "th",
    "center",
    "font",
    "span",
    "div",
    "hr",
    "img",
}
_ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
for _tag in _TAGS:
    _ATTRIBUTES.setdefault(_tag, set()).update({"style", "align", "width", "height"})
_ATTRIBUTES["img"].update({"src", "alt"})
_ATTRIBUTES["td"].update({"colspan", "rowspan", "valign", "bgcolor"})
_ATTRIBUTES["table"].update({"cellpadding", "cellspacing", "border", "bgcolor", "role"})


def html_clean(html: str) -> str:
    return nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES)


def layout_has_unsubscribe(layout_html: str) -> bool:
    return any(marker in layout_html for marker in UNSUBSCRIBE_MARKERS)


class _TextWriter(HTMLParser):
    """HTML to readable text: blocks on their own lines, list items dashed, links written
    "text (url)" (or the URL alone when that is its text)."""

    _BLOCKS = {"p", "div", "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol"}
    _BLOCKS |= {"blockquote", "pre", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[tuple[str, int]] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "head", "title"):
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.parts)))
        if tag == "hr":
            self.parts.append("---\n\n")

    def handle_endtag(self, tag):
        if tag in ("style", "script", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag in self._BLOCKS or tag == "li":
            self.parts.append("\n")
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.parts[start:]).strip()
            if href and href != label:
                self.parts.append(f" ({href})" if label else href)

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        lines = [" ".join(line.split()) for line in "".join(self.parts).splitlines()]
        out: list[str] = []
        for line in lines:
            if line or (out and out[-1]):
                out.append(line)
        return "\n".join(out).strip() + "\n"


def html_to_text(html: str) -> str:
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    return writer.text()


@dataclass
class Rendered:
    subject: str
    text: str
    html: str


def sending_domains() -> list[str]:
    """The domains this site may send from: EMAIL_SENDING_DOMAINS, else DEFAULT_FROM_EMAIL's."""
    from email.utils import parseaddr

    configured = [d.strip().lower() for d in settings.EMAIL_SENDING_DOMAINS if d.strip()]
    if configured:
        return configured
    return [parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2].lower()]


def sender_check(address: str) -> str:
    """Why ``address`` may not be a sender ("" if it may): a From on a domain the provider
    has not verified is rejected or lands in spam (DMARC)."""
    domain = address.rpartition("@")[2].lower()
    allowed = sending_domains()
    if address and domain not in allowed:
        return (
            f"{address} is not on a sending domain of this site ({', '.join(allowed)}); "
            "use one of those, or add the domain to EMAIL_SENDING_DOMAINS once your provider "
            "has verified it."
        )
    return ""


def sender_context() -> dict:
    """The sender's name and postal address for layouts (settings, as the site has one)."""
    return {
        "sender_name": settings.EMAIL_SENDER_NAME,
        "sender_address": settings.EMAIL_SENDER_ADDRESS,
    }


def email_render(
    *,
    subject: str,
    body: str,
    body_format: str,
    layout_html: str | None,
    context: dict,
    marketing: bool,
) -> Rendered:
    """Render one email for one subscriber's ``context``; raise TemplateError when the
    template fails or a marketing email would go out without its unsubscribe link."""
    subject = template_render(subject, context)
    body = template_render(body, context)
    if body_format == BODY_TEXT:
        return Rendered(subject=subject, text=body, html="")
    layout_html = layout_html or BUILTIN_LAYOUT
    if marketing and not layout_has_unsubscribe(layout_html):
        raise TemplateError(NO_UNSUBSCRIBE_MESSAGE)
    content = body
    if body_format == BODY_MARKDOWN:
        content = markdown.markdown(body, extensions=["extra"])
    html = html_clean(
        template_render(layout_html, {**context, **sender_context(), "content": content})
    )
    return Rendered(subject=subject, text=html_to_text(html), html=html)
