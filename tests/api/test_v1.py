"""The native API: staff tokens, cursor pages, one error shape, flat query counts."""

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from apps.automations.models import Automation
from apps.automations.portable import SCHEMA, VERSION
from apps.members.models import Operation
from apps.members.services import operation_run
from tests.automations.helpers import add, build, on_tag, settle, tag, wait
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course
from tests.staff import FULL, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client):
    staff = staff_user("api", FULL)
    token = Token.objects.create(user=staff)

    class Staff:
        def get(self, path, **params):
            return client.get(f"/api/v1/{path}", params, HTTP_AUTHORIZATION=f"Token {token.key}")

        def send(self, method, path, body=None):
            return getattr(client, method)(
                f"/api/v1/{path}",
                body or {},
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Token {token.key}",
            )

    return Staff()


def test_a_staff_token_is_needed(client):
    member_token = Token.objects.create(user=User.objects.create_user("m"))
    assert client.get("/api/v1/offerings/").status_code in (401, 403)
    denied = client.get("/api/v1/offerings/", HTTP_AUTHORIZATION=f"Token {member_token.key}")
    assert denied.status_code == 403
    assert set(denied.json()) == {"error", "message"}


def test_offerings_and_a_members_access(api):
    course = weekly_course()
    operation_run(
        operation=Operation.RELEASE, offering=course, email="m@example.com", source="test"
    )

    offerings = api.get("offerings/").json()
    members = api.get("members/").json()["results"]
    access = api.get(f"members/{members[0]['id']}/access/").json()["results"]

    (offering,) = offerings["results"]
    assert offering["tags"]["revoke"] == "Foundation Course – Revoke Access"
    assert [m["position"] for m in offering["modules"]] == [1, 2, 3]
    assert members[0]["has_password"] is False
    assert access[0]["active"] is True
    assert len(access[0]["releases"]) == 1


def test_automations_as_json_create_get_replace_and_status(api):
    document = {
        "schema": SCHEMA,
        "version": VERSION,
        "name": "Via API",
        "triggers": [{"event_type": "tag_add", "tag": "Go"}],
        "steps": [{"kind": "add_tag", "settings": {"tag": "Done"}}],
    }

    created = api.send("post", "automations/", document)
    pk = Automation.objects.get(name="Via API").pk
    got = api.get(f"automations/{pk}/")
    replaced = api.send(
        "put", f"automations/{pk}/", {**document, "steps": [{"kind": "end", "settings": {}}]}
    )
    new_pk = Automation.objects.get(name="Via API").pk
    live = api.send("post", f"automations/{new_pk}/status/", {"status": "live"})
    bad_status = api.send("post", f"automations/{new_pk}/status/", {"status": "running"})

    assert created.status_code == 201 and created.json()["steps"][0]["kind"] == "add_tag"
    assert got.json()["triggers"] == [{"event_type": "tag_add", "tag": "Go"}]
    assert replaced.json()["steps"] == [{"kind": "end", "settings": {}}]
    assert live.json()["status"] == "live"
    assert bad_status.status_code == 400
    assert "status" in bad_status.json()["fields"]


def test_an_invalid_automation_names_the_place(api):
    response = api.send(
        "post",
        "automations/",
        {
            "schema": SCHEMA,
            "version": VERSION,
            "name": "Bad",
            "steps": [{"kind": "delay", "settings": {"amount": 1, "unit": "eons"}}],
        },
    )
    assert response.status_code == 400
    assert "steps[0] (delay): unit" in response.json()["message"]


def test_replacing_an_automation_people_are_in_is_refused(api):
    flow = build(triggers=on_tag("Go"), steps=[wait(1, "days")])
    tag(SubscriberFactory(), "Go")
    settle()
    response = api.send(
        "put",
        f"automations/{flow.pk}/",
        {"schema": SCHEMA, "version": 1, "name": flow.name, "steps": []},
    )
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"


def test_runs_with_their_step_log_and_filters(api):
    flow = build(triggers=on_tag("Go"), steps=[add("Done", "tag it")])
    person = SubscriberFactory()
    tag(person, "Go")
    settle()

    listed = api.get("runs/", automation=flow.pk, status="completed").json()["results"]
    detail = api.get(f"runs/{listed[0]['id']}/").json()

    assert [r["subscriber"] for r in listed] == [person.pk]
    assert [s["node_label"] for s in detail["steps"]] == ["tag it"]


def test_webhook_endpoints_mint_rotate_revoke(api):
    course = weekly_course()
    minted = api.send("post", "webhook-endpoints/", {"operation": "release", "offering": course.pk})
    pk, url = minted.json()["id"], minted.json()["url"]
    rotated = api.send("post", f"webhook-endpoints/{pk}/rotate/")
    revoked = api.send("post", f"webhook-endpoints/{pk}/revoke/")
    bad = api.send("post", "webhook-endpoints/", {"operation": "explode", "offering": course.pk})

    assert minted.status_code == 201 and "/hooks/in/" in url
    assert rotated.json()["url"] != url
    assert revoked.json()["status"] == "revoked"
    assert bad.status_code == 400 and "operation" in bad.json()["fields"]


def test_events_and_emails_filter_and_page_by_cursor(api):
    person = SubscriberFactory()
    for i in range(60):
        tag(person, f"T{i}")

    first = api.get("events/", subscriber=person.pk, type="tag_add").json()
    second = client_get_next(api, first["next"])

    assert len(first["results"]) == 50 and first["next"]
    assert len(second["results"]) == 10
    assert api.get("emails/", status="sent").json()["results"] == []


def client_get_next(api, url):
    path = url.split("/api/v1/", 1)[1]
    from urllib.parse import parse_qs, urlsplit

    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    return api.get(urlsplit(path).path, **query).json()


def test_unknown_ids_are_a_404_in_the_error_shape(api):
    response = api.get("runs/999999/")
    assert response.status_code == 404
    assert set(response.json()) == {"error", "message"}


@pytest.mark.parametrize(
    "path",
    [
        "offerings/",
        "members/",
        "grants/",
        "automations/",
        "runs/",
        "webhook-endpoints/",
        "emails/",
        "events/",
    ],
)
def test_list_endpoints_do_not_grow_with_rows(api, path):
    def grow(n, start):
        for i in range(start, start + n):
            course = weekly_course(f"C{i}", modules=2)
            operation_run(
                operation=Operation.RELEASE,
                offering=course,
                email=f"m{i}@example.com",
                source="test",
            )
            build(triggers=on_tag(f"G{i}"), steps=[add(f"D{i}")])
            tag(SubscriberFactory(), f"G{i}")
            from apps.members.services import endpoint_mint

            endpoint_mint(operation=Operation.UPDATE, offering=course)
        settle()
        api.get(path)
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(path).status_code == 200
        return len(ctx.captured_queries)

    assert grow(1, 0) == grow(5, 10)


def test_the_schema_validates_and_the_docs_page_renders(client):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"redoc" in docs.content.lower()


@pytest.mark.parametrize(
    "path, params",
    [
        ("events/", {"subscriber": "abc"}),
        ("runs/", {"automation": "x"}),
        ("grants/", {"offering": "[1]"}),
    ],
)
def test_a_bad_filter_id_is_a_400_naming_the_filter(api, path, params):
    response = api.get(path, **params)
    assert response.status_code == 400
    assert list(response.json()["fields"]) == list(params)


@pytest.mark.parametrize("body", [[1, 2], "text"])
def test_an_automation_document_must_be_an_object(api, body):
    response = api.send("post", "automations/", body)
    assert response.status_code == 400


def test_an_automation_narrowed_to_an_offering_through_the_api(api):
    weekly_course()
    document = {
        "schema": SCHEMA,
        "version": VERSION,
        "name": "Welcome to Foundation",
        "triggers": [{"event_type": "access_granted", "offering": "Foundation Course"}],
        "steps": [
            {
                "kind": "event",
                "settings": {
                    "event_type": "module_released",
                    "offering": "Foundation Course",
                    "timeout": {"amount": 9, "unit": "days"},
                },
            }
        ],
    }

    created = api.send("post", "automations/", document)
    bad = api.send(
        "post",
        "automations/",
        {
            **document,
            "name": "Other",
            "triggers": [{"event_type": "access_granted", "offering": "X"}],
        },
    )

    assert created.status_code == 201, created.json()
    assert created.json()["triggers"] == document["triggers"]
    assert created.json()["steps"][0]["settings"]["timeout"] == {"amount": 9, "unit": "days"}
    assert created.json()["steps"][0]["settings"]["on_timeout"] == "continue"
    assert bad.status_code == 400
    assert "no offering is named 'X'" in str(bad.json())
