"""Odd input on /v4/ gets a clear 4xx with Kit's error body, never a 500: NUL characters
(PostgreSQL cannot store them), forged cursors, impossible dates, wrong types, unknown ids."""

import base64
import json

import pytest

from tests.factories import SubscriberFactory, TagFactory

pytestmark = pytest.mark.django_db


def _cursor(values) -> str:
    return base64.b64encode(json.dumps(values).encode()).decode()


def test_odd_input_is_refused_with_a_reason_never_a_500(v4):
    # given
    p, t = SubscriberFactory(), TagFactory()
    calls = [
        ("post", "tags", {"name": "a\x00b"}),
        ("post", "subscribers", {"email_address": "a\x00@example.com"}),
        ("post", "subscribers", {"email_address": "x@example.com", "first_name": "\x00"}),
        ("post", "subscribers", {"email_address": "x@example.com", "fields": {"a": {"b": 1}}}),
        ("post", "custom_fields", {"label": "\x00"}),
        ("post", "broadcasts", {"subject": "\x00", "send_at": "2026-13-45T99:00:00"}),
        ("post", "broadcasts", {"content": ["x"]}),
        (
            "post",
            "webhooks",
            {
                "target_url": "http://x\x00y",
                "event": {"name": "subscriber.tag_add", "tag_id": 99999999999999999999},
            },
        ),
        (
            "post",
            "webhooks",
            {
                "target_url": "http://x.example",
                "event": {"name": "subscriber.form_subscribe", "form_id": "1"},
            },
        ),
        (
            "post",
            "webhooks",
            {
                "target_url": "http://x.example",
                "event": {"name": "subscriber.product_purchase", "product_id": {"a": 1}},
            },
        ),
        ("post", "purchases", {"transaction_id": "\x00", "email_address": "a@b.co"}),
        ("post", "purchases", {"purchase": []}),
        ("post", f"tags/{t.pk}/subscribers", {"email_address": ["x"]}),
        ("post", "forms/999/subscribers", {"email_address": p.email}),
        ("put", f"subscribers/{p.pk}", {"email_address": "\x00"}),
        ("put", f"subscribers/{p.pk}", {"first_name": "a" * 300}),
        ("put", "account/colors", {}),
        ("post", "bulk/tags", {"tags": [{"name": "\x00"}, "x", None]}),
        (
            "post",
            "bulk/custom_fields/subscribers",
            {
                "custom_field_values": [
                    {
                        "subscriber_id": p.pk,
                        "subscriber_custom_field_id": 99999999999999999999,
                        "value": "x",
                    }
                ]
            },
        ),
        (
            "post",
            "bulk/subscribers",
            {"subscribers": [{"email_address": "q@example.com", "fields": {"nope": "x"}}]},
        ),
        ("post", "bulk/tags", {"tags": [{"name": "x"}] * 101, "callback_url": "ftp://x"}),
        ("get", "subscribers", {"after": _cursor([1.5])}),
        ("get", "subscribers", {"after": _cursor(["x"])}),
        ("get", "subscribers", {"after": _cursor([True])}),
        ("get", "subscribers", {"after": _cursor([10**30])}),
        ("get", "subscribers", {"sort_field": "created_at", "after": _cursor(["junk", 1])}),
        ("get", "subscribers", {"sort_field": "created_at", "after": _cursor([1, 1])}),
        ("get", "subscribers", {"sort_field": "created_at", "after": _cursor([None, "x"])}),
        ("get", "subscribers", {"created_after": "2026-02-30"}),
        ("get", "subscribers", {"email_address": "\x00"}),
        ("get", "account/growth_stats", {"starting": "2026-01-01T00:00:00+99:00"}),
        ("get", "account/growth_stats", {"starting": "9999-12-31"}),
        ("get", "account/growth_stats", {"ending": "0001-01-01"}),
    ]
    # when
    answers = [
        (call, v4.get(call[1], **call[2]) if call[0] == "get" else getattr(v4, call[0])(*call[1:]))
        for call in calls
    ]
    # then: a 2xx (the odd part was harmless) or a 4xx saying what was wrong
    bad = [
        (call, r.status_code)
        for call, r in answers
        if r.status_code >= 500 or (r.status_code >= 400 and not r.json().get("errors"))
    ]
    assert not bad, bad
    nul = answers[0][1]
    assert nul.status_code == 400 and "NUL" in nul.json()["errors"][0]


def test_v3_refuses_nul_characters_too(v3):
    answer = v3().post("tags", {"tag": {"name": "a\x00b"}})
    assert answer.status_code == 400 and "NUL" in answer.json()["message"]
