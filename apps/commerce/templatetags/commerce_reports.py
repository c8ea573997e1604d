from django import template

from ..reports import sales_report
from ..stripe_events import stripe_configured

register = template.Library()


@register.simple_tag
def sales_figures():
    return {"report": sales_report(), "configured": stripe_configured()}
