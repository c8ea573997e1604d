"""Every write through a service: the automations' admin and views call services, which own
their transactions; they never save, delete, update or open a transaction themselves. And
every row lock is taken in ``lock_objects.py``."""

import re
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "apps" / "automations"
WRITES = re.compile(r"\.save\(|\.delete\(|\.update\(|bulk_create|transaction\.atomic")
EDGES = sorted({*APP.glob("*views*.py"), *APP.glob("admin*.py")})


@pytest.mark.parametrize("module", EDGES, ids=lambda p: p.name)
def test_the_admin_and_views_write_only_through_services(module):
    found = [
        f"{module.name}:{number}: {line.strip()}"
        for number, line in enumerate(module.read_text().splitlines(), start=1)
        if WRITES.search(line)
    ]

    assert found == []


def test_every_row_lock_is_taken_in_lock_objects():
    found = [
        f"{path.relative_to(APP)}:{number}"
        for path in APP.rglob("*.py")
        if path.name != "lock_objects.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "select_for_update" in line
    ]

    assert found == []
