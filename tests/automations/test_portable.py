import json

import pytest
from django.core.management import CommandError, call_command

from apps.automations.models import Automation, Node
from apps.automations.portable import (
    SCHEMA,
    VERSION,
    AutomationFileError,
    automation_export,
    automation_import,
)
from apps.automations.seed import GUIDE_AUTOMATIONS, seed_guide_automations
from apps.crm.services import custom_field_create
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db


def _without_name(document: dict) -> dict:
    return {k: v for k, v in document.items() if k != "name"}


@pytest.mark.parametrize("name", [spec["name"] for spec in GUIDE_AUTOMATIONS])
def test_importing_an_export_gives_an_identical_tree(name):
    weekly_course("Foundation Course")  # the release flow waits for access to it
    seed_guide_automations()
    original = automation_export(Automation.objects.get(name=name))

    copy = automation_import(original, name=f"{name} (copy)")

    assert _without_name(automation_export(copy)) == _without_name(original)
    assert (
        Node.objects.filter(automation=copy).count()
        == Node.objects.filter(automation__name=name).count()
    )


def test_every_kind_and_setting_survives_the_round_trip():
    custom_field_create(label="Call date")
    custom_field_create(label="Plan")
    automation_import({"schema": SCHEMA, "version": VERSION, "name": "Other", "steps": []})
    document = {
        "schema": SCHEMA,
        "version": VERSION,
        "name": "Everything",
        "status": "paused",
        "reentry": "once",
        "description": "all kinds",
        "triggers": [
            {"event_type": "tag_add", "tag": "Go"},
            {"event_type": "field_value_updated", "field_key": "plan", "value": "gold"},
        ],
        "steps": [
            {"kind": "delay", "settings": {"amount": 3, "unit": "hours"}, "label": "three hours"},
            {"kind": "delay", "settings": {"until_field": "call_date"}},
            {"kind": "add_tag", "settings": {"tag": "A"}},
            {"kind": "remove_tag", "settings": {"tag": "B"}},
            {
                "kind": "condition",
                "settings": {
                    "condition": {
                        "or": [
                            {"and": [{"has": "A"}, {"has_not": "B"}]},
                            {"not": {"has": "C"}},
                            {"field": {"key": "plan", "op": "equals", "value": "gold"}},
                        ]
                    }
                },
                "yes": [
                    {"kind": "set_field", "settings": {"key": "plan", "value": "vip"}},
                    {
                        "kind": "condition",
                        "settings": {"condition": {"has": "D"}},
                        "yes": [{"kind": "exit", "settings": {}}],
                        "no": [],
                    },
                ],
                "no": [
                    {
                        "kind": "webhook",
                        "settings": {
                            "url": "https://example.com/h",
                            "payload": "{{ subscriber.id }}",
                        },
                    }
                ],
            },
            {"kind": "event", "settings": {"event_type": "tag_add", "tag": "Revoke"}},
            {"kind": "start_automation", "settings": {"automation": "Other"}},
            {"kind": "remove_from_automation", "settings": {"automation": "Other"}},
            {"kind": "end", "settings": {}},
        ],
    }

    imported = automation_import(document)

    assert automation_export(imported) == document


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(schema="kit.automation"), "schema: expected 'tessera.automation'"),
        (lambda d: d.update(version=2), "version: this Tessera reads version 1"),
        (lambda d: d.update(colour="red"), "colour: unknown key"),
        (lambda d: d.update(status="running"), "status: expected one of"),
        (
            lambda d: d["steps"][1]["yes"][0]["settings"].update(unit="fortnights"),
            r"steps\[1\] \(condition\)\.yes\[0\] \(delay\): unit: must be one of minutes",
        ),
        (
            lambda d: d["steps"][1]["no"].append({"kind": "teleport"}),
            r"steps\[1\] \(condition\)\.no\[1\]: kind: unknown step kind 'teleport'; known",
        ),
        (
            lambda d: d["steps"][0].update(yes=[]),
            r"steps\[0\] \(add_tag\): only a condition has yes / no branches",
        ),
        (
            lambda d: d["steps"][0]["settings"].update(tag=""),
            r"steps\[0\] \(add_tag\)\.settings\.tag: expected a tag name",
        ),
        (
            lambda d: d["steps"][1]["settings"]["condition"].update(has=7),
            r"steps\[1\] \(condition\)\.settings\.condition\.has: expected a tag name",
        ),
        (
            lambda d: d["steps"].append(
                {"kind": "start_automation", "settings": {"automation": "Nope"}}
            ),
            r"steps\[2\] \(start_automation\)\.settings\.automation: no automation is named 'Nope'",
        ),
        (
            lambda d: d["triggers"].append({"event_type": "tag_add"}),
            r"triggers\[1\]: tag_id: expected a whole number",
        ),
    ],
)
def test_an_invalid_file_names_the_bad_step_and_field_and_creates_nothing(change, message):
    document = {
        "schema": SCHEMA,
        "version": VERSION,
        "name": "Broken",
        "triggers": [{"event_type": "tag_add", "tag": "Go"}],
        "steps": [
            {"kind": "add_tag", "settings": {"tag": "X"}},
            {
                "kind": "condition",
                "settings": {"condition": {"has": "VIP"}},
                "yes": [{"kind": "delay", "settings": {"amount": 1, "unit": "days"}}],
                "no": [{"kind": "end", "settings": {}}],
            },
        ],
    }
    change(document)

    with pytest.raises(AutomationFileError, match=message):
        automation_import(document)

    assert not Automation.objects.exists()
    assert not Node.objects.exists()


def test_the_commands_round_trip_through_a_file(tmp_path, capsys):
    weekly_course("Foundation Course")
    seed_guide_automations()
    target = tmp_path / "release.json"

    call_command("automation_export", "Foundation Course – Release", "-o", str(target))
    call_command("automation_import", str(target), "--name", "Release copy", "--status", "draft")

    copy = Automation.objects.get(name="Release copy")
    assert copy.status == "draft"
    exported = json.loads(target.read_text())
    assert _without_name({**automation_export(copy), "status": "live"}) == _without_name(exported)
    assert "Imported 'Release copy'" in capsys.readouterr().out


def test_the_import_command_explains_a_bad_file(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": "tessera.automation", "version": 1, "name": "X",\n "steps": [')

    with pytest.raises(CommandError, match="not valid JSON: line 2"):
        call_command("automation_import", str(broken))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("automation_import", str(tmp_path / "missing.json"))
    with pytest.raises(CommandError, match="No automation has the id or name 'Ghost'"):
        call_command("automation_export", "Ghost")


def test_a_condition_of_20000_or_terms_is_refused_at_once_without_creating_tags():
    """Issue 14, L4: it took 27 s (a tag looked up per term) before the size was checked."""
    import time

    from apps.automations.portable import AutomationFileError, automation_import
    from apps.tags.models import Tag

    document = {
        "schema": "tessera.automation",
        "version": 1,
        "name": "Huge",
        "steps": [
            {
                "kind": "condition",
                "settings": {"condition": {"or": [{"has": f"T{i}"} for i in range(20_000)]}},
                "yes": [],
                "no": [],
            }
        ],
    }
    started = time.monotonic()

    with pytest.raises(AutomationFileError, match="more than 200 checks"):
        automation_import(document)

    assert time.monotonic() - started < 0.5  # about a millisecond idle; generous when busy
    assert not Tag.objects.exists()
