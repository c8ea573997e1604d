"""The offering admin: what an editor changes there sticks."""

import pytest
from django.urls import reverse

from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db


def test_renaming_a_module_in_the_offering_admin_sticks(admin_client):
    course = weekly_course(modules=1)
    module = course.modules.get()
    data = {
        "name": course.name,
        "slug": course.slug,
        "kind": course.kind,
        "description": "",
        "password_field_key": "accessally_password",
        "progression": "free",
        "modules-TOTAL_FORMS": "1",
        "modules-INITIAL_FORMS": "1",
        "modules-MIN_NUM_FORMS": "0",
        "modules-MAX_NUM_FORMS": "1000",
        "modules-0-id": str(module.pk),
        "modules-0-offering": str(course.pk),
        "modules-0-position": "1",
        "modules-0-title": "Renamed",
        "modules-0-release_rule": "immediately",
        "modules-0-release_days": "0",
    }
    response = admin_client.post(reverse("admin:offerings_offering_change", args=[course.pk]), data)
    assert response.status_code == 302, response.content[:3000]
    module.refresh_from_db()
    assert module.title == "Renamed"
