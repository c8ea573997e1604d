"""v1's automation writes that go beyond one call to the automations app's services."""

from django.db import transaction

from apps.automations.models import Automation
from apps.automations.portable import automation_import
from apps.automations.services import automation_delete


@transaction.atomic
def automation_replace(*, automation: Automation, document: dict) -> Automation:
    """Replace ``automation`` with the exported ``document`` (keeping its name unless the
    document gives one): all of it or nothing, so a document that does not import leaves
    the old automation as it was. Refused while anyone is in it (``automation_delete``)."""
    name = automation.name
    automation_delete(automation=automation)
    return automation_import({**document, "name": document.get("name", name)})
