"""The project's plumbing: the demo seed, periodic tasks, settings, health."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from apps.core.periodic import PeriodicSpec, periodic_tasks_ensure
from apps.crm.models import Event, Subscriber
from apps.tags.models import Tag, Tagging

pytestmark = pytest.mark.django_db


def test_seed_demo_is_safe_to_run_twice(capsys, settings):
    settings.DEBUG = True  # the demo's setting; with DEBUG off no known password is created
    call_command("seed_demo")
    first = capsys.readouterr().out
    counts = (
        Subscriber.objects.count(),
        Tag.objects.count(),
        Tagging.objects.count(),
        Event.objects.count(),
    )

    call_command("seed_demo")
    second = capsys.readouterr().out

    assert "Admin login: admin / tessera-demo" in first
    assert "password unchanged" in second
    assert (
        Subscriber.objects.count(),
        Tag.objects.count(),
        Tagging.objects.count(),
        Event.objects.count(),
    ) == counts
    assert Tag.objects.filter(name="Foundation Course – Revoke Access").exists()
    assert "Member login: member@example.com / tessera-member" in first
    assert first.count("Webhook (") == 3
    # the demo's tagged endpoints really fire: each registered its CRM hook
    from apps.members.models import WebhookEndpoint

    tagged = WebhookEndpoint.objects.filter(trigger_tag__isnull=False)
    assert tagged.count() == 2
    assert all(e.hook and e.hook.active and e.hook.tag_id == e.trigger_tag_id for e in tagged)


def test_seed_demo_creates_no_known_password_when_debug_is_off(capsys, monkeypatch):
    from django.contrib.auth import get_user_model

    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("DEMO_MEMBER_PASSWORD", raising=False)
    call_command("seed_demo")

    out = capsys.readouterr().out
    assert "not created (DEBUG is off)" in out
    assert not get_user_model().objects.exists()


def test_the_dispatch_sweep_is_registered_by_migrate_and_registering_again_changes_nothing():
    sweep = PeriodicTask.objects.get(task="crm.events_dispatch")
    assert sweep.interval.every == settings.EVENT_SWEEP_SECONDS
    before = PeriodicTask.objects.count()

    periodic_tasks_ensure(
        specs=[
            PeriodicSpec(
                name=sweep.name, task=sweep.task, every_seconds=settings.EVENT_SWEEP_SECONDS
            )
        ]
    )

    assert PeriodicTask.objects.count() == before


def test_an_apps_periodic_module_is_its_periodic_tasks_home():
    from apps.core.periodic import periodic_specs, periodic_specs_all
    from apps.core.tasks import LEASES_REAP_TASK

    # core declares its reaper only in apps/core/periodic.py; core found it and migrate wrote it
    assert set(periodic_specs()) <= set(periodic_specs_all())
    reaper = PeriodicTask.objects.get(task=LEASES_REAP_TASK)
    assert reaper.interval.every == settings.LEASE_REAP_SECONDS


def test_health_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["checks"]["database"]["ok"] is True


def _settings_probe(env: dict, code: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']="
            "'config.settings'; django.setup(); from django.conf import settings as s; " + code,
        ],
        env={**clean, **env},
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=60,
    )


def test_without_debug_a_secret_key_is_required(tmp_path):
    result = _settings_probe({"TESSERA_VAR_DIR": str(tmp_path)}, "print(s.SECRET_KEY)")
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_the_demo_defaults_need_no_server(tmp_path):
    result = _settings_probe(
        {"DEBUG": "1", "TESSERA_VAR_DIR": str(tmp_path)},
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'], "
        "s.DATABASES['default']['OPTIONS']['transaction_mode'], s.CELERY_BROKER_URL)",
    )
    assert result.returncode == 0, result.stderr
    engine, name, mode, broker = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert name == str(tmp_path / "tessera.sqlite3")
    assert mode == "IMMEDIATE"
    assert broker.startswith("filesystem://")


def test_urls_switch_to_postgres_and_redis(tmp_path):
    result = _settings_probe(
        {
            "SECRET_KEY": "k",
            "TESSERA_VAR_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://u@db.example:5432/tessera",
            "REDIS_URL": "redis://r:6379/2",
        },
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "redis://r:6379/2"]


def test_every_task_has_soft_and_hard_time_limits():
    """Issue 14 (M4): no task can hold a worker without end; the default covers every task
    that sets none, and a task's own limits keep the soft one under the hard one."""
    from config.celery import app

    app.loader.import_default_modules()
    tasks = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert tasks
    for name, task in tasks.items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft and hard and soft < hard, name
