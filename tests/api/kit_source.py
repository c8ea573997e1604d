"""A second Tessera serving /v4/ on a local port: what Kit's API looks like to the importer.

Its own SQLite database and var/ directory, seeded with subscribers (in every state, one with
an address Tessera refuses), tags, custom fields and their values, a form, a sequence, a
broadcast and a webhook; a v4 key from ``manage.py api_credentials``.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.processes import ROOT, sqlite_migrated

SEED = """
import random
from apps.crm.models import (
    Broadcast, CustomField, Form, Hook, Sequence, Subscriber, SubscriberFieldValue,
)
from apps.tags.models import Tag, Tagging
random.seed(20)
fields = CustomField.objects.bulk_create(
    [CustomField(label=f"Field {n}", key=f"field_{n}") for n in range({fields})]
)
tags = Tag.objects.bulk_create(
    [Tag(name=f"Topic {n}", name_key=f"topic {n}") for n in range({tags})]
)
states = ["active"] * 8 + ["cancelled", "inactive"]
people = Subscriber.objects.bulk_create(
    [Subscriber(email=f"person{n}@example.com", first_name=f"P{n}", state=states[n % 10])
     for n in range({subscribers} - 1)]
    + [Subscriber(email="not an address", first_name="Bad")]
)
SubscriberFieldValue.objects.bulk_create(
    [SubscriberFieldValue(
        subscriber=p, field=fields[(p.pk + k) % len(fields)], value=f"v{p.pk}-{k}"
    ) for p in people for k in range(3)]
)
Tagging.objects.bulk_create(
    [Tagging(subscriber=p, tag=t) for p in people for t in random.sample(tags, 2)]
)
Form.objects.create(name="Newsletter", kind="embed")
Sequence.objects.create(name="Welcome series")
Broadcast.objects.create(subject="Spring news", content="<p>Hello</p>", status="completed")
Hook.objects.create(
    event_name="tag_add", tag_id=tags[0].pk, target_url="https://hooks.example.com/k", secret="s"
)
"""


@dataclass
class KitSource:
    url: str
    api_key: str
    process: subprocess.Popen
    subscribers: int
    tags: int
    fields: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kit_source_start(directory: Path, *, subscribers: int, tags: int, fields: int) -> KitSource:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="1",
        SECRET_KEY="kit-source-test",
        DATABASE_URL=f"sqlite:///{directory / 'kit.sqlite3'}",
        TESSERA_VAR_DIR=str(directory / "var"),
        KIT_API_RATE_LIMIT="1000000",
        KIT_API_ADDRESS_RATE_LIMIT="1000000",
    )

    def manage(*args, **kwargs):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
            **kwargs,
        )

    sqlite_migrated(directory / "kit.sqlite3", env)
    manage("migrate", "--noinput")
    manage(
        "shell",
        "-c",
        SEED.replace("{subscribers}", str(subscribers))
        .replace("{tags}", str(tags))
        .replace("{fields}", str(fields)),
    )
    printed = manage("api_credentials").stdout
    api_key = next(
        line.split(":", 1)[1].strip()
        for line in printed.splitlines()
        if line.startswith("api_key_v4:")
    )
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runserver",
            f"127.0.0.1:{port}",
            "--noreload",
            "--nothreading",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the Kit source server did not start") from None
            time.sleep(0.5)
    return KitSource(url, api_key, process, subscribers, tags, fields)


def kit_source_stop(source: KitSource) -> None:
    import signal

    if source.process.poll() is None:
        os.killpg(source.process.pid, signal.SIGTERM)
    try:
        source.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(source.process.pid, signal.SIGKILL)
        source.process.wait(timeout=30)
