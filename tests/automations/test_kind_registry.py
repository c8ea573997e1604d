"""One unit per step kind: a kind registered here, in the test module and nowhere else,
shows in the builder's picker, its form and card, the engine, the dry run, the JSON format
(export and import) and the lint, with no other file changed."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

from apps.automations.dryrun import automation_dry_run
from apps.automations.graph import graph_load
from apps.automations.kinds import (
    DryOutcome,
    Field,
    NodeKind,
    Outcome,
    SettingsError,
    kind_register,
    kind_unregister,
    kinds_all,
)
from apps.automations.kinds.settings import tag_id_from, tag_setting
from apps.automations.lint import LintMessage, automation_lint
from apps.automations.models import Node
from apps.automations.portable import automation_export, automation_import
from apps.tags.models import Tag
from tests.automations.helpers import build, on_tag, path, run_of, settle, tag
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


class ShoutKind(NodeKind):
    """Says something (and names a tag, to travel by name in the JSON format)."""

    def clean(self, settings):
        words = settings.get("words")
        if not isinstance(words, str) or not words.strip():
            raise SettingsError("words", "say something")
        return {"words": words.strip(), "tag_id": tag_setting(settings)}

    def arrive(self, ctx):
        return Outcome(detail=f"shouted {ctx.node.settings['words']!r}")

    def form_fields(self, settings, ctx):
        return [
            Field("words", "Words", "text", settings.get("words", "")),
            Field("tag", "Tag", "tag", ctx["tag_names"].get(settings.get("tag_id"), "")),
        ]

    def settings_from_form(self, data):
        return {"words": data.get("words", ""), "tag_id": tag_id_from(data.get("tag"), "Tag")}

    def summary(self, settings, ctx):
        return f"Shout {settings['words']}"

    def dry_run(self, settings, state):
        return DryOutcome(
            f"would shout {settings['words']} about {state.tag_name(settings['tag_id'])}"
        )


def _lint_shouting(node, ctx):
    if node.settings["words"].isupper():
        yield LintMessage("Shouting in capitals reads as anger.", node_id=node.pk)


@pytest.fixture(autouse=True)
def shout_kind():
    kind = ShoutKind("shout", "Shout", tag_settings=("tag_id",), lint_rules=(_lint_shouting,))
    kind_register(kind)
    yield kind
    kind_unregister("shout")


def _shout(words: str, tag_name: str = "Loud") -> dict:
    return {"kind": "shout", "settings": {"words": words, "tag": tag_name}, "label": "shout"}


def test_a_registered_kind_is_offered_in_the_builder_picker_with_its_form(admin_client):
    flow = build(triggers=on_tag("Go"), steps=[], status="draft")
    url = reverse("admin:automations_builder_new", args=[flow.pk])

    picker = admin_client.get(url, **HTMX).content.decode()
    form = admin_client.get(url, {"kind": "shout"}, **HTMX).content.decode()

    assert "shout" in [k.key for k in kinds_all()]
    assert 'data-kind="shout"' in picker and ">Shout<" in picker
    assert "New step: Shout" in form
    assert 'name="words"' in form


def test_a_registered_kind_is_added_from_its_form_and_shown_on_its_card(admin_client):
    flow = build(triggers=on_tag("Go"), steps=[], status="draft")

    admin_client.post(
        reverse("admin:automations_builder_add", args=[flow.pk]),
        {"kind": "shout", "words": "HELLO", "tag": "Loud"},
        **HTMX,
    )
    page = admin_client.get(reverse("admin:automations_automation_change", args=[flow.pk]))
    content = page.content.decode()

    node = Node.objects.get(automation=flow)
    assert node.settings == {"words": "HELLO", "tag_id": Tag.objects.get(name="Loud").pk}
    assert "Shout HELLO" in content
    assert 'value="HELLO"' in content
    assert "Shouting in capitals reads as anger." in content


def test_a_registered_kind_runs_in_the_engine_and_the_dry_run():
    flow = build(triggers=on_tag("Go"), steps=[_shout("hello")])
    person = SubscriberFactory()
    tag(person, "Go")
    settle()

    dry = automation_dry_run(graph=graph_load(flow.pk), tag_ids=set(), fields={})

    assert path(run_of(flow, person)) == ["shout"]
    assert run_of(flow, person).steps.get().detail == "shouted 'hello'"
    assert [s.note for s in dry.steps] == ["would shout hello about 'Loud'"]
    assert dry.ending == "completed"


def test_a_registered_kind_survives_the_json_round_trip():
    flow = build(triggers=on_tag("Go"), steps=[_shout("hello", "Loud")], status="draft")

    exported = automation_export(flow)
    copy = automation_import(exported, name="Copy")

    assert exported["steps"] == [_shout("hello", "Loud")]
    assert automation_export(copy)["steps"] == exported["steps"]


def test_a_registered_kind_brings_its_own_lint_rule():
    flow = build(triggers=on_tag("Go"), steps=[_shout("HELLO"), _shout("hello")])
    node = Node.objects.get(automation=flow, settings__words="HELLO")

    messages = automation_lint(graph=graph_load(flow.pk), triggers=flow.triggers.all())

    assert [m for m in messages if "capitals" in m.text] == [
        LintMessage("Shouting in capitals reads as anger.", node_id=node.pk)
    ]


def test_no_code_outside_the_kinds_package_tests_a_kinds_name():
    app = Path(__file__).resolve().parents[2] / "apps" / "automations"
    pattern = re.compile(r"kind ?(==|in) ")
    found = [
        f"{path.relative_to(app)}:{number}"
        for path in app.rglob("*.py")
        if "kinds" not in path.relative_to(app).parts
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]

    assert found == []
