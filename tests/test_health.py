"""/healthz: any Host, no HTTPS redirect, and the deep checks with their detail."""

import pytest
from django.core.management import call_command
from django.db.models.functions import Now
from django.utils import timezone

from apps.core.models import ProcessHeartbeat, ProcessKind

pytestmark = pytest.mark.django_db


def test_healthz_answers_whatever_the_host_and_without_redirecting_to_https(client, settings):
    # given: production's settings: only the real name allowed, plain HTTP redirected
    settings.ALLOWED_HOSTS = ["members.example.com"]
    settings.SECURE_SSL_REDIRECT = True

    # when: the compose healthcheck calls it by address over HTTP
    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")

    # then: answered; any other page still refuses the host, and still redirects
    assert response.status_code == 200
    assert response.json()["checks"]["database"]["ok"] is True
    assert client.get("/login/", HTTP_HOST="10.0.0.7:8000").status_code == 400
    assert client.get("/login/", HTTP_HOST="members.example.com").status_code == 301


def _beat(age_seconds: float) -> None:
    ProcessHeartbeat.objects.create(
        holder="beat:h:1:abc",
        kind=ProcessKind.BEAT,
        hostname="h",
        pid=1,
        started_at=timezone.now(),
        beat_at=timezone.now(),
    )
    ProcessHeartbeat.objects.update(beat_at=Now() - timezone.timedelta(seconds=age_seconds))


def test_deep_healthz_names_what_is_down_with_each_checks_detail(client, settings):
    # given: beat stopped writing its heartbeat a minute ago, and no worker runs
    settings.BEAT_STALE_AFTER_SECONDS = 30
    _beat(60)

    # when
    response = client.get("/healthz?deep=1")

    # then: 503, every check reported with its time; the failing ones say why
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert set(body["checks"]) == {"database", "redis", "broker", "worker", "beat"}
    assert all("ms" in check for check in body["checks"].values())
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["beat"]["ok"] is False
    assert body["checks"]["beat"]["seconds_since_heartbeat"] >= 60
    assert body["checks"]["worker"]["ok"] is False


def test_a_beat_that_beats_is_reported_up(client):
    _beat(1)
    check = client.get("/healthz?deep=1").json()["checks"]["beat"]
    assert check["ok"] is True
    assert check["seconds_since_heartbeat"] < 30


def test_a_beat_that_never_beat_is_reported_with_the_reason(client):
    check = client.get("/healthz?deep=1").json()["checks"]["beat"]
    assert check == {"ok": False, "detail": "beat has never written a heartbeat", "ms": check["ms"]}


def test_the_health_command_checks_a_process_on_this_host_and_exits_1_when_it_is_silent(capsys):
    import socket

    with pytest.raises(SystemExit) as exited:
        call_command("health", "--process", "beat")
    assert exited.value.code == 1

    ProcessHeartbeat.objects.create(
        holder="beat:here",
        kind=ProcessKind.BEAT,
        hostname=socket.gethostname(),
        pid=1,
        started_at=timezone.now(),
        beat_at=timezone.now(),
    )
    call_command("health", "--process", "beat")
    assert '"status": "ok"' in capsys.readouterr().out
