from .models import WebhookEndpoint


def endpoint_uses_of_tag(tag_id: int) -> list[str]:
    return [
        f"trigger of webhook endpoint {e}"
        for e in WebhookEndpoint.objects.filter(trigger_tag_id=tag_id).select_related("offering")
    ]
