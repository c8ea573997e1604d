"""Kit v4 beyond the walk: cursor pages both ways, bulk calls, the messaging endpoints,
stats read from real data, keys made, shown once, used and revoked."""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.api.models import ApiKey, BulkJob
from apps.api.services import api_key_create, api_key_revoke
from apps.crm.models import (
    Broadcast,
    EmailKind,
    EmailMessage,
    EmailStatus,
    EmailTemplate,
    Form,
    Purchase,
    Sequence,
    Subscriber,
    WebhookDelivery,
)
from apps.tags.models import Segment, Tag
from tests.factories import CustomFieldFactory, SubscriberFactory, TagFactory

pytestmark = pytest.mark.django_db


def test_pages_go_forward_and_back_and_stay_stable_under_inserts(v4):
    # given
    ids = [SubscriberFactory().pk for _ in range(7)]
    # when: forward three at a time (newest first, Kit's default order)
    first = v4.get("subscribers", per_page=3).json()
    SubscriberFactory()  # someone subscribes while the client pages
    second = v4.get("subscribers", per_page=3, after=first["pagination"]["end_cursor"]).json()
    back = v4.get("subscribers", per_page=3, before=second["pagination"]["start_cursor"]).json()
    # then
    newest_first = ids[::-1]
    assert [s["id"] for s in first["subscribers"]] == newest_first[:3]
    assert [s["id"] for s in second["subscribers"]] == newest_first[3:6]
    assert second["pagination"]["has_previous_page"] and second["pagination"]["has_next_page"]
    assert [s["id"] for s in back["subscribers"]] == newest_first[:3]
    assert back["pagination"]["has_previous_page"] is True  # the newcomer is before them now
    assert first["pagination"]["per_page"] == 3


def test_page_parameters_are_checked(v4):
    assert v4.get("tags").json()["pagination"]["per_page"] == 500
    for params in (
        {"per_page": 1001},
        {"per_page": "x"},
        {"after": "%%%"},
        {"before": "WzFd", "after": "WzFd"},
    ):
        answer = v4.get("tags", **params)
        assert answer.status_code == 422 and answer.json()["errors"], params
    counted = v4.get("tags", include_total_count="true").json()["pagination"]
    assert counted["total_count"] == 0


def test_list_queries_do_not_grow_with_the_page(v4):
    # given
    field = CustomFieldFactory()
    for n in range(5):
        SubscriberFactory().field_values.create(field=field, value=str(n))
    v4.get("account")  # the key's first use notes last_used_at (once a minute at most)
    # when
    with CaptureQueriesContext(connection) as five:
        v4.get("subscribers")
    for _ in range(20):
        SubscriberFactory()
    with CaptureQueriesContext(connection) as twenty_five:
        v4.get("subscribers")
    # then: key, page, fields; the same however many rows
    assert len(twenty_five) == len(five) == 3


def test_bulk_calls_answer_at_once_up_to_100_and_list_failures(v4):
    # given
    person = SubscriberFactory()
    tag = TagFactory()
    # when
    tags = v4.post("bulk/tags", {"tags": [{"name": "A"}, {"name": ""}, {"name": "B"}]})
    taggings = v4.post(
        "bulk/tags/subscribers",
        {
            "taggings": [
                {"tag_id": tag.pk, "subscriber_id": person.pk},
                {"tag_id": 999999, "subscriber_id": person.pk},
            ]
        },
    )
    people = v4.post(
        "bulk/subscribers",
        {
            "subscribers": [
                {"email_address": "x@example.com", "first_name": "X"},
                {"email_address": "bad"},
            ]
        },
    )
    untag = v4.delete(
        "bulk/tags/subscribers", {"taggings": [{"tag_id": tag.pk, "subscriber_id": person.pk}]}
    )
    # then
    assert tags.status_code == 200
    assert [t["name"] for t in tags.json()["tags"]] == ["A", "B"]
    assert tags.json()["failures"][0]["tag"] == {"name": ""}
    assert [s["id"] for s in taggings.json()["subscribers"]] == [person.pk]
    assert "Tag 999999 not found" in taggings.json()["failures"][0]["errors"]
    assert [s["email_address"] for s in people.json()["subscribers"]] == ["x@example.com"]
    assert people.json()["failures"][0]["subscriber"] == {"email_address": "bad"}
    assert untag.status_code == 200 and not person.taggings.exists()


def test_a_big_bulk_call_is_kept_run_and_its_result_posted_to_the_callback(v4, settings):
    # given
    settings.CELERY_TASK_ALWAYS_EAGER = True
    names = [{"name": f"Tag {n}"} for n in range(150)]
    # when
    answer = v4.post("bulk/tags", {"tags": names, "callback_url": "https://example.com/done"})
    # then
    assert (answer.status_code, answer.json()) == (202, {})
    job = BulkJob.objects.get()
    from apps.api.bulk import bulk_job_finish

    bulk_job_finish(job_id=job.pk)  # the worker's call (a second run does nothing)
    assert Tag.objects.count() == 150
    delivery = WebhookDelivery.objects.get(url="https://example.com/done")
    assert len(json.loads(delivery.body)["tags"]) == 150


def test_forms_sequences_and_purchases(v4):
    # given
    form = Form.objects.create(name="Waitlist")
    sequence = Sequence.objects.create(name="Welcome")
    person = SubscriberFactory(email="p@example.com")
    # when
    forms = v4.get("forms").json()
    added = v4.post(
        f"forms/{form.pk}/subscribers",
        {"email_address": "p@example.com", "referrer": "https://x.example"},
    )
    again = v4.post(f"forms/{form.pk}/subscribers/{person.pk}")
    on_form = v4.get(f"forms/{form.pk}/subscribers").json()
    seq = v4.post(f"sequences/{sequence.pk}/subscribers", {"email_address": "p@example.com"})
    in_seq = v4.get(f"sequences/{sequence.pk}/subscribers").json()
    purchase = v4.post(
        "purchases",
        {
            "email_address": "p@example.com",
            "transaction_id": "T-1",
            "transaction_time": "2026-01-01T00:00:00Z",
            "currency": "USD",
            "subtotal": 10,
            "total": 10,
            "products": [
                {"pid": 1, "lid": 1, "name": "Course", "sku": "C", "unit_price": 10, "quantity": 1}
            ],
        },
    )
    # then
    assert set(forms["forms"][0]) >= {
        "id",
        "name",
        "embed_js",
        "embed_url",
        "archived",
        "uid",
        "type",
    }
    assert (added.status_code, again.status_code) == (201, 200)
    assert added.json()["subscriber"]["referrer"] == "https://x.example"
    assert [s["id"] for s in on_form["subscribers"]] == [person.pk]
    assert seq.status_code == 201 and [s["id"] for s in in_seq["subscribers"]] == [person.pk]
    assert purchase.status_code == 201, purchase.content
    got = v4.get(f"purchases/{purchase.json()['purchase']['id']}").json()["purchase"]
    assert got["transaction_id"] == "T-1" and Purchase.objects.count() == 1


def test_broadcasts_templates_segments_and_honest_stats(v4):
    # given: a template, a segment, and a broadcast sent to two people (one email out)
    template = EmailTemplate.objects.create(name="Classic", is_default=True)
    tag = TagFactory()
    Segment.objects.create(name="Customers", condition={"has": tag.pk})
    draft = v4.post("broadcasts", {})
    made = v4.post(
        "broadcasts",
        {
            "subject": "News",
            "content": "<p>Hi</p>",
            "public": True,
            "email_template_id": template.pk,
            "preview_text": "Read me",
            "thumbnail_url": "https://example.com/t.png",
        },
    ).json()["broadcast"]
    broadcast = Broadcast.objects.get(pk=made["id"])
    a, b = SubscriberFactory(), SubscriberFactory()
    for person, status in ((a, EmailStatus.SENT), (b, EmailStatus.QUEUED)):
        EmailMessage.objects.create(
            subscriber=person,
            key=f"broadcast:{broadcast.pk}:{person.pk}",
            kind=EmailKind.BROADCAST,
            to_email=person.email,
            subject="News",
            body_text="Hi",
            status=status,
            broadcast=broadcast,
            sent_at=timezone.now() if status == EmailStatus.SENT else None,
        )
    # when
    stats = v4.get(f"broadcasts/{broadcast.pk}/stats").json()["broadcast"]["stats"]
    account = v4.get("account/email_stats").json()["stats"]
    clicks = v4.get(f"broadcasts/{broadcast.pk}/clicks").json()
    # then
    assert draft.status_code == 201
    assert (
        made["email_template"] == {"id": template.pk, "name": "Classic"} and made["public"] is True
    )
    assert v4.get("email_templates").json()["email_templates"][0]["is_default"] is True
    assert v4.get("segments").json()["segments"][0]["name"] == "Customers"
    assert (stats["recipients"], stats["progress"]) == (2, 50.0)
    assert stats["open_rate"] is None and stats["open_tracking_disabled"] is True
    assert (account["sent"], account["opened"], account["open_tracking_enabled"]) == (
        1,
        None,
        False,
    )
    assert clicks["broadcast"]["clicks"] == [] and clicks["broadcast"]["click_tracking_disabled"]
    assert v4.get("broadcasts/stats").json()["broadcasts"][0]["stats"]["recipients"] in (0, 2)


def test_growth_stats_count_new_and_cancelled_people(v4):
    # given
    SubscriberFactory()
    gone = SubscriberFactory()
    gone.state, gone.cancelled_at = "cancelled", timezone.now()
    gone.save()
    # when
    stats = v4.get("account/growth_stats").json()["stats"]
    # then
    assert (stats["new_subscribers"], stats["cancellations"], stats["net_new_subscribers"]) == (
        2,
        1,
        1,
    )
    assert stats["subscribers"] == 1
    assert v4.get("account/growth_stats", starting="junk").status_code == 422


def test_colors_and_creator_profile(v4):
    assert v4.put("account/colors", {"colors": ["#000000", "#ffffff"]}).json() == {
        "colors": ["#000000", "#ffffff"]
    }
    assert v4.put("account/colors", {"colors": ["red"]}).status_code == 422
    assert v4.get("account/colors").json() == {"colors": ["#000000", "#ffffff"]}
    assert set(v4.get("account/creator_profile").json()["profile"]) == {
        "name",
        "byline",
        "bio",
        "image_url",
        "profile_url",
    }


def test_subscriber_upsert_filters_unsubscribe_and_stats(v4):
    # given
    first = v4.post("subscribers", {"email_address": "u@example.com", "first_name": "U"})
    # when
    upsert = v4.post("subscribers", {"email_address": "U@example.com", "first_name": "Una"})
    sid = first.json()["subscriber"]["id"]
    gone = v4.post(f"subscribers/{sid}/unsubscribe")
    # then
    assert (first.status_code, upsert.status_code) == (201, 200)
    assert upsert.json()["subscriber"]["first_name"] == "Una"
    assert gone.status_code == 204
    assert v4.get("subscribers").json()["subscribers"] == []
    assert [s["id"] for s in v4.get("subscribers", status="cancelled").json()["subscribers"]] == [
        sid
    ]
    assert v4.get("subscribers", status="nope").status_code == 422
    stats = v4.get(f"subscribers/{sid}/stats").json()["subscriber"]["stats"]
    assert stats["sent"] == 0 and stats["opened"] is None
    for path in ("subscribers/42>", "subscribers/abc/tags", "tags/1.5/subscribers"):
        assert v4.get(path).status_code == 404


def test_errors_are_kit_shaped(v4, client):
    cases = [
        v4.post("tags", {"name": ""}),
        v4.post("custom_fields", {}),
        v4.post("subscribers", {"email_address": "nope"}),
        v4.post(
            "webhooks",
            {"target_url": "ftp://x", "event": {"name": "subscriber.subscriber_activate"}},
        ),
        v4.post("webhooks", {"target_url": "https://x.example", "event": {"name": "nope"}}),
        v4.put("subscribers/1", {"fields": {"unknown": "x"}}),
        client.post(
            "/v4/tags", "{not json", content_type="application/json", HTTP_X_KIT_API_KEY=v4.key
        ),
        v4.get("nowhere"),
        v4.delete("tags"),
    ]
    for answer in cases:
        assert answer.status_code in (400, 404, 405, 422), answer.content
        assert isinstance(answer.json()["errors"], list) and answer.json()["errors"]


def test_keys_are_hashed_named_revocable_and_note_their_last_use(client):
    # given
    key, raw = api_key_create(name="Zapier")
    # when
    used = client.get("/v4/account", HTTP_X_KIT_API_KEY=raw)
    key.refresh_from_db()
    api_key_revoke(key=key)
    after = client.get("/v4/account", HTTP_X_KIT_API_KEY=raw)
    # then
    assert raw.startswith("kit_") and raw not in key.key_hash and key.prefix == raw[:8]
    assert used.status_code == 200 and key.last_used_at is not None
    assert after.status_code == 401


def test_api_credentials_prints_the_same_v4_key_until_regenerated(client):
    def printed(*args):
        out = io.StringIO()
        call_command("api_credentials", *args, stdout=out)
        lines = dict(line.split(":", 1) for line in out.getvalue().splitlines())
        return lines["api_key_v4"].strip()

    first, second = printed(), printed()
    fresh = printed("--regenerate")
    assert first == second and first.startswith("kit_") and fresh != first
    assert client.get("/v4/account", HTTP_X_KIT_API_KEY=first).status_code == 401
    assert client.get("/v4/account", HTTP_X_KIT_API_KEY=fresh).status_code == 200
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 1


def test_the_admin_shows_a_new_key_once(client):
    # given
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(admin)
    # when
    made = client.post("/admin/api/apikey/add/", {"name": "Make.com"}, follow=True)
    listing = client.get("/admin/api/apikey/")
    # then
    shown = [m.message for m in made.context["messages"]]
    key = ApiKey.objects.get(name="Make.com")
    assert any(key.prefix in str(m) and "not shown again" in str(m) for m in shown)
    raw = str(shown[0]).split("<code>")[1].split("</code>")[0]
    assert client.get("/v4/account", HTTP_X_KIT_API_KEY=raw).status_code == 200
    assert raw not in listing.content.decode()
    assert Subscriber.objects.count() == 0


def test_kept_bulk_jobs_and_waiting_imports_are_handed_to_workers_under_a_lease(monkeypatch):
    # given: a kept job and a waiting Kit import, one stopped by Kit (it waits for a person),
    # and a finished job
    from apps.api import job_leases
    from apps.api.models import KitImport, KitImportStatus

    sent = []
    monkeypatch.setattr(job_leases, "_kit_send", lambda pk, token: sent.append(("kit", pk, token)))
    monkeypatch.setattr(
        job_leases, "_bulk_send", lambda pk, token: sent.append(("bulk", pk, token))
    )
    job = BulkJob.objects.create(kind="tags", items=[])
    BulkJob.objects.create(kind="tags", items=[], finished_at=timezone.now())
    waiting = KitImport.objects.create(api_key="kit_x")
    KitImport.objects.create(api_key="kit_y", status=KitImportStatus.FAILED)

    # when
    dispatched = job_leases.jobs_dispatch()

    # then: each is sent once with its lease token, and leased
    assert dispatched == 2 and job_leases.jobs_dispatch() == 0
    job.refresh_from_db()
    waiting.refresh_from_db()
    assert sorted(sent) == sorted(
        [("kit", waiting.pk, waiting.lease_token), ("bulk", job.pk, job.lease_token)]
    )
    assert waiting.status == KitImportStatus.RUNNING and job.locked_until is not None
