"""Condition: tag and custom-field tests that send the run down its Yes or No branch."""

import json

from django.core.exceptions import ValidationError

from apps.crm.models import CustomField
from apps.tags.conditions import (
    FIELD_OPS,
    ConditionError,
    condition_evaluate,
    condition_field_keys,
    condition_size_check,
    condition_tag_ids,
    condition_validate,
    subscriber_condition_evaluate,
)
from apps.tags.models import Tag

from .base import DryOutcome, Field, NodeKind, Outcome, SettingsError
from .settings import tag_id_from, unknown_check

CONDITION_ROWS_MIN = 2
TESTS = [("has", "has tag"), ("has_not", "has not tag")] + [
    (op, f"field {op.replace('_', ' ')}") for op in FIELD_OPS
]
TAG_TESTS = ("has", "has_not")
JOINS = ("and", "or")


def _condition_rows(condition, names: dict[int, str]) -> dict:
    """A flat AND / OR of tag and field tests as form rows; anything deeper as JSON."""
    rows, join = [], "and"
    if condition:
        ((op, arg),) = condition.items()
        leaves = arg if op in JOINS else [condition]
        join = op if op in JOINS else "and"
        for leaf in leaves:
            ((test, value),) = leaf.items()
            if test in TAG_TESTS:
                rows.append({"test": test, "subject": names.get(value, ""), "value": ""})
            elif test == "field":
                rows.append(
                    {"test": value["op"], "subject": value["key"], "value": value.get("value", "")}
                )
            else:
                return {"join": join, "rows": [], "json": json.dumps(condition)}
    # One empty row to add a test with; at least two rows in all.
    rows += [{"test": "has", "subject": "", "value": ""}] * max(1, CONDITION_ROWS_MIN - len(rows))
    return {"join": join, "rows": rows, "json": ""}


def _leaf_from(i: int, test: str, subject: str, value: str) -> dict:
    if test in TAG_TESTS:
        return {test: tag_id_from(subject, f"Condition row {i + 1}")}
    check = {"key": subject, "op": test}
    if value:
        check["value"] = value
    return {"field": check}


def _condition_from(data) -> dict:
    raw = (data.get("condition_json") or "").strip()
    if raw:
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ValidationError(f"Condition: not valid JSON ({exc}).") from None
    tests, subjects, values = (data.getlist(k) for k in ("cond_test", "cond_subject", "cond_value"))
    if not len(tests) == len(subjects) == len(values):
        raise ValidationError(
            "Condition: every row needs its test, subject and value boxes; reload the page "
            "and fill the rows in again."
        )
    leaves = [
        _leaf_from(i, test, (subject or "").strip(), (value or "").strip())
        for i, (test, subject, value) in enumerate(zip(tests, subjects, values, strict=True))
        if (subject or "").strip()
    ]
    if not leaves:
        raise ValidationError(
            "Condition: fill in at least one test (for example: has tag VIP Member)."
        )
    if len(leaves) == 1:
        return leaves[0]
    join = data.get("cond_join") if data.get("cond_join") in JOINS else "and"
    return {join: leaves}


def _condition_text(node, names: dict[int, str]) -> str:
    ((op, arg),) = node.items()
    if op == "has":
        return f"has {names.get(arg, arg)!r}"
    if op == "has_not":
        return f"has not {names.get(arg, arg)!r}"
    if op == "field":
        value = f" {arg['value']!r}" if "value" in arg else ""
        return f"{arg['key']} {arg['op'].replace('_', ' ')}{value}"
    if op == "not":
        return f"NOT ({_condition_text(arg, names)})"
    return f" {op.upper()} ".join(_condition_text(child, names) for child in arg)


def _tree_to_names(node, tags: dict[int, str]):
    ((op, arg),) = node.items()
    if op in TAG_TESTS:
        return {op: tags.get(arg, arg)}
    if op in JOINS:
        return {op: [_tree_to_names(child, tags) for child in arg]}
    if op == "not":
        return {op: _tree_to_names(arg, tags)}
    return {op: arg}


def _tree_to_ids(node, where: str, names):
    if not isinstance(node, dict) or len(node) != 1:
        names.fail(where, "expected an object with one of has, has_not, field, and, or, not")
    ((op, arg),) = node.items()
    here = f"{where}.{op}"
    if op in TAG_TESTS:
        return {op: names.tag_id(arg, here)}
    if op in JOINS:
        if not isinstance(arg, list):
            names.fail(here, "expected a list of conditions")
        return {op: [_tree_to_ids(child, f"{here}[{i}]", names) for i, child in enumerate(arg)]}
    if op == "not":
        return {op: _tree_to_ids(arg, here, names)}
    return {op: arg}


class ConditionKind(NodeKind):
    def clean(self, settings):
        unknown_check(settings, {"condition"})
        condition = settings.get("condition")
        try:
            condition_validate(condition)
        except ConditionError as exc:
            raise SettingsError("condition", str(exc)) from None
        tag_ids = condition_tag_ids(condition)
        known = set(Tag.objects.filter(pk__in=tag_ids).values_list("pk", flat=True))
        if tag_ids - known:
            raise SettingsError("condition", f"no tag has id {min(tag_ids - known)}")
        keys = condition_field_keys(condition)
        known_keys = set(CustomField.objects.filter(key__in=keys).values_list("key", flat=True))
        if keys - known_keys:
            raise SettingsError(
                "condition", f"no custom field has the key {min(keys - known_keys)!r}"
            )
        return {"condition": condition}

    def arrive(self, ctx):
        matched = subscriber_condition_evaluate(
            subscriber_id=ctx.run.subscriber_id, condition=ctx.node.settings["condition"]
        )
        return Outcome(
            branch="yes" if matched else "no",
            detail="condition met" if matched else "condition not met",
        )

    def form_fields(self, settings, ctx):
        rows = _condition_rows(settings.get("condition"), ctx["tag_names"])
        return [Field("condition", "Condition", "condition", rows, TESTS)]

    def settings_from_form(self, data):
        return {"condition": _condition_from(data)}

    def summary(self, settings, ctx):
        return f"If {_condition_text(settings['condition'], ctx['tag_names'])}"

    def dry_run(self, settings, state):
        matched = condition_evaluate(settings["condition"], state.tag_ids, state.fields)
        return DryOutcome(
            "condition met: Yes" if matched else "condition not met: No",
            branch="yes" if matched else "no",
        )

    def tags_used(self, settings):
        return condition_tag_ids(settings["condition"])

    def tags_needed(self, settings):
        return condition_tag_ids(settings["condition"])

    @property
    def names_tags(self) -> bool:
        return True

    def chain_links(self, settings, link):
        link["reads"] |= condition_field_keys(settings.get("condition"))

    def settings_export(self, settings, names):
        out = super().settings_export(settings, names)
        out["condition"] = _tree_to_names(out["condition"], names.tags)
        return out

    def settings_import(self, settings, where, names):
        settings = super().settings_import(settings, where, names)
        if "condition" in settings:
            try:
                condition_size_check(settings["condition"])
            except ConditionError as exc:
                names.fail(f"{where}.condition", str(exc))
            settings["condition"] = _tree_to_ids(settings["condition"], f"{where}.condition", names)
        return settings


KIND = ConditionKind("condition", "Condition", has_branches=True)
