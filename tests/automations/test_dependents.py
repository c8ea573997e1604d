"""What in automations uses a tag (``dependents``): such a tag cannot be deleted."""

import pytest
from django.core.exceptions import ValidationError

from apps.tags.models import Tag
from apps.tags.services import tag_delete
from tests.automations.helpers import build, on_tag

pytestmark = pytest.mark.django_db


def test_a_tag_that_a_step_or_trigger_uses_cannot_be_deleted():
    build(
        name="Uses VIP",
        triggers=on_tag("Go"),
        steps=[
            {"kind": "condition", "settings": {"condition": {"has": "VIP"}}, "yes": [], "no": []}
        ],
    )

    with pytest.raises(ValidationError, match="condition step in 'Uses VIP'"):
        tag_delete(tag=Tag.objects.get(name="VIP"))
    with pytest.raises(ValidationError, match="entry trigger of 'Uses VIP'"):
        tag_delete(tag=Tag.objects.get(name="Go"))
    assert Tag.objects.filter(name="VIP").exists()
