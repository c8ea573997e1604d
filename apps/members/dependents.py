"""What in the Webhook Generator adds or uses a tag (for tags.dependents and the tag map)."""

from collections.abc import Collection

from django.urls import reverse

from apps.tags.dependents import Role, TagUse

from .models import EndpointStatus, Operation, WebhookEndpoint

# The tag of the endpoint's offering that its operation adds.
_OPERATION_ADDS = {Operation.RELEASE: "base_tag_id", Operation.REVOKE: "revoke_tag_id"}


def endpoint_uses_of_tag(tag_ids: Collection[int] | None) -> list[TagUse]:
    """One query: endpoints are few (minted by hand), so all of them are read and the caller
    keeps the tags it asked about."""
    uses = []
    for endpoint in WebhookEndpoint.objects.select_related("offering"):
        url = reverse("admin:members_webhookendpoint_change", args=[endpoint.pk])
        if endpoint.trigger_tag_id:
            # A revoked endpoint still holds its tag (the foreign key protects it).
            uses += [
                TagUse(
                    endpoint.trigger_tag_id,
                    Role.NEEDS,
                    f"trigger of webhook endpoint {endpoint}",
                    url,
                ),
                TagUse(
                    endpoint.trigger_tag_id,
                    Role.REMOVES,
                    f"webhook endpoint {endpoint}, once its operation ran",
                    url,
                ),
            ]
        field = _OPERATION_ADDS.get(endpoint.operation)
        if field and endpoint.status == EndpointStatus.ACTIVE:
            uses.append(
                TagUse(
                    getattr(endpoint.offering, field),
                    Role.ADDS,
                    f"webhook operation {endpoint}",
                    url,
                )
            )
    return uses
