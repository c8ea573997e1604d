from django import template

from apps.crm.health import health_all

register = template.Library()


@register.simple_tag(takes_context=True)
def health_items(context):
    """The health figures this user may follow to their lists (none without a request)."""
    request = context.get("request")
    if request is None:
        return []
    user = request.user
    return [item for item in health_all() if user.has_perm(item.permission)]
