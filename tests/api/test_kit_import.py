"""Done-when 4 of issue 20: ``kit_import`` pulls a Kit account (a second Tessera serving
/v4/ on a local port: exactly what Kit's API looks like to it) with 5,000 subscribers, 60
tags and 10 custom fields; stopped half-way it resumes; a second run changes nothing."""

import io
import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.db.models import Count

from apps.api.kit_import import KitClient, KitError, kit_import_create, kit_import_run
from apps.api.models import KitImport, KitImportStatus
from apps.crm.models import (
    Broadcast,
    CustomField,
    Form,
    Hook,
    Sequence,
    Subscriber,
    SubscriberFieldValue,
)
from apps.tags.models import Tag, Tagging
from tests.api.kit_source import kit_source_start, kit_source_stop
from tests.processes import ROOT, worker_database_url

SUBSCRIBERS, TAGS, FIELDS = 5000, 60, 10


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    source = kit_source_start(
        tmp_path_factory.mktemp("kit"), subscribers=SUBSCRIBERS, tags=TAGS, fields=FIELDS
    )
    yield source
    kit_source_stop(source)


def _snapshot() -> dict:
    return {
        "subscribers": sorted(Subscriber.objects.values_list("email", "first_name", "state")),
        "values": SubscriberFieldValue.objects.count(),
        "tags": Tag.objects.count(),
        "taggings": Tagging.objects.count(),
        "fields": CustomField.objects.count(),
        "forms": Form.objects.count(),
        "sequences": Sequence.objects.count(),
        "broadcasts": sorted(Broadcast.objects.values_list("subject", "status")),
        "hooks": Hook.objects.count(),
    }


class CrashAfter(KitClient):
    """Kit's client, stopping dead after some pages (what a killed process leaves behind)."""

    def __init__(self, pages: int, **kwargs):
        super().__init__(**kwargs)
        self.pages = pages

    def page(self, *args, **kwargs):
        if self.pages == 0:
            raise KitError("the process died here")
        self.pages -= 1
        return super().page(*args, **kwargs)


@pytest.mark.django_db
def test_import_stopped_half_way_resumes_and_a_second_run_changes_nothing(kit):
    # given: an import that stops in the middle of the subscribers (page 3 of the account)
    imp = kit_import_create(api_key=kit.api_key, base_url=kit.url)
    stopped = kit_import_run(
        kit_import=imp, client=CrashAfter(4, base_url=kit.url, api_key=kit.api_key)
    )
    assert (stopped.status, stopped.stage) == (KitImportStatus.FAILED, "subscribers")
    half = Subscriber.objects.count()
    assert 0 < half < SUBSCRIBERS - 1

    # when: it is run again
    done = kit_import_run(kit_import=stopped)

    # then: everything arrived once, in its state, with fields and tags
    assert done.status == KitImportStatus.DONE, done.error
    assert Subscriber.objects.count() == SUBSCRIBERS - 1
    assert [f["record"] for f in done.failures] == ["not an address"]
    assert "valid email" in done.failures[0]["reason"]
    assert Tag.objects.count() == TAGS and CustomField.objects.count() == FIELDS
    by_state = dict(Subscriber.objects.values_list("state").annotate(n=Count("pk")))
    assert by_state == {"active": 4000, "cancelled": 500, "inactive": 499}
    assert SubscriberFieldValue.objects.count() == 3 * (SUBSCRIBERS - 1)
    assert Tagging.objects.count() == 2 * (SUBSCRIBERS - 1)
    assert Broadcast.objects.get().status == "draft" and Form.objects.get().kind == "embed"
    assert Sequence.objects.count() == 1 and not Hook.objects.exists()
    assert done.webhooks[0]["target_url"] == "https://hooks.example.com/k"
    assert done.api_key == ""  # not kept once done

    # and a second full run changes nothing
    before = _snapshot()
    out = io.StringIO()
    call_command("kit_import", "--api-key", kit.api_key, "--base-url", kit.url, stdout=out)
    second = KitImport.objects.order_by("-pk").first()
    assert second.pk != done.pk and _snapshot() == before
    for stage, counts in second.counts.items():
        assert counts.get("created", 0) == counts.get("updated", 0) == 0, (stage, counts)
    text = out.getvalue()
    assert (
        "subscribers: 5000 / 5000" in text and "not imported (subscribers): not an address" in text
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_command_killed_half_way_resumes_where_it_was(kit):
    # given: the command running in its own process against this test's database
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "kit-import-test",
        "DATABASE_URL": worker_database_url(),
        "CONN_MAX_AGE": "0",
    }
    command = [
        sys.executable,
        "manage.py",
        "kit_import",
        "--api-key",
        kit.api_key,
        "--base-url",
        kit.url,
    ]
    first = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # when: SIGKILL once some subscribers are in
    deadline = time.monotonic() + 300
    while Subscriber.objects.count() < 1000:
        assert first.poll() is None and time.monotonic() < deadline, "no progress"
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    killed = KitImport.objects.get()
    assert killed.status == KitImportStatus.RUNNING and killed.stage == "subscribers"
    # and the same command is run again
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    # then: it resumed that import and finished it, nothing doubled
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"Resuming import #{killed.pk} at subscribers" in again.stdout
    assert KitImport.objects.get().status == KitImportStatus.DONE
    assert Subscriber.objects.count() == SUBSCRIBERS - 1
    assert Tagging.objects.count() == 2 * (SUBSCRIBERS - 1)


@pytest.mark.django_db
def test_the_admin_page_starts_an_import_and_shows_its_progress(
    client, django_capture_on_commit_callbacks
):
    # given
    from django.contrib.auth import get_user_model

    boss = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(boss)
    # when: the owner starts an import
    with django_capture_on_commit_callbacks() as kicks:
        started = client.post(
            "/admin/api/kitimport/add/",
            {"base_url": "https://api.kit.com", "api_key": "kit_abc"},
        )
    imp = KitImport.objects.get()
    # and a worker is part-way through it
    imp.status, imp.stage = KitImportStatus.RUNNING, "subscribers"
    imp.counts = {
        "tags": {"seen": 60, "created": 60},
        "subscribers": {"seen": 2000, "created": 2000},
    }
    imp.totals = {"subscribers": 5000}
    imp.failures = [{"stage": "subscribers", "record": "not an address", "reason": "invalid"}]
    imp.save()
    page = client.get(f"/admin/api/kitimport/{imp.pk}/change/")
    # then: one worker kick, and the page shows where it is and refreshes itself
    assert started.status_code == 302 and len(kicks) == 1
    html = page.content.decode()
    assert "subscribers: 2000 of 5000 read, 2000 new" in html
    assert "not an address" in html and 'http-equiv="refresh"' in html
    assert "kit_abc" not in html
