"""Dates on member pages: in the member's language and the site's time zone, labelled, so
"opens on Monday 9 March, 09:00" says whose 09:00 it is."""

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format

register = template.Library()


@register.filter
def when(value) -> str:
    if not value:
        return ""
    local = timezone.localtime(value)
    label = local.tzname() or settings.TIME_ZONE
    if label != settings.TIME_ZONE:
        label = f"{label}, {settings.TIME_ZONE}"
    return f"{date_format(local, 'l j F Y, H:i')} ({label})"
