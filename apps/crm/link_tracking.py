"""Tessera's own click and open tracking, for every backend (SMTP included).

At send time each http(s) link of a tracking email's HTML becomes a signed redirect,
``/e/c/<token>/``, the token holding the email's id and the original URL under the site's
key: the redirect goes only to a URL that was in that email (a forged or edited token is
refused, so it is no open redirect). The unsubscribe and preferences links are left as they
are. An open pixel, ``/e/o/<token>/``, is added when the email asks for it. The stored HTML
keeps the original links; the rewrite is the same on every send.
"""

import html
import re
import uuid
from base64 import b64decode

from django.conf import settings
from django.core import signing
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from .models import ActivityKind, EmailMessage

CLICK_SALT = "tessera.crm.click"
OPEN_SALT = "tessera.crm.open"
# Tessera's own links in the footer: tracking them would only hide where they lead.
_UNTRACKED_PATHS = ("/email/unsubscribe/", "/email/preferences/")
_HREF = re.compile(r'href="(https?://[^"]+)"')
_PIXEL = b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _tracked_url(message_id: int, url: str) -> str:
    token = signing.dumps([message_id, url], salt=CLICK_SALT, compress=True)
    return f"{settings.SITE_URL}{reverse('crm:click', args=[token])}"


def _untracked(url: str) -> bool:
    return url.startswith(settings.SITE_URL) and any(p in url for p in _UNTRACKED_PATHS)


def tracked_html(message: EmailMessage) -> str:
    """The HTML part as it is sent: links through the click redirect and the open pixel, as
    the email asks."""
    body = message.body_html
    if message.track_clicks:

        def rewrite(match: re.Match) -> str:
            url = html.unescape(match.group(1))
            if _untracked(url):
                return match.group(0)
            return f'href="{html.escape(_tracked_url(message.pk, url))}"'

        body = _HREF.sub(rewrite, body)
    if message.track_opens:
        token = signing.dumps(message.pk, salt=OPEN_SALT)
        pixel = f"{settings.SITE_URL}{reverse('crm:open', args=[token])}"
        body += f'<img src="{html.escape(pixel)}" width="1" height="1" alt="">'
    return body


def click_view(request, token):
    """A click: recorded (a ``link_click`` event with the URL, which Kit's ``link_click``
    hook and "link clicked" triggers and steps receive), then redirected."""
    from .tracking import email_activity_record

    try:
        message_id, url = signing.loads(token, salt=CLICK_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return render(request, "crm/link_invalid.html", status=400)
    message = EmailMessage.objects.filter(pk=message_id).first()
    if message is None or not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return render(request, "crm/link_invalid.html", status=400)
    email_activity_record(
        source="tessera",
        kind=ActivityKind.CLICKED,
        event_id=f"click:{uuid.uuid4().hex}",
        message_id=message.pk,
        url=url,
    )
    return HttpResponseRedirect(url)


def open_view(request, token):
    """The open pixel: recorded, and a 1x1 transparent GIF whatever happens (a broken
    image in someone's inbox helps nobody)."""
    from .tracking import email_activity_record

    try:
        message_id = signing.loads(token, salt=OPEN_SALT)
    except signing.BadSignature:
        message_id = None
    if isinstance(message_id, int):
        email_activity_record(
            source="tessera",
            kind=ActivityKind.OPENED,
            event_id=f"open:{uuid.uuid4().hex}",
            message_id=message_id,
        )
    response = HttpResponse(_PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response
