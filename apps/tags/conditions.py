"""The tag-condition compiler: has / has not, AND / OR / NOT, nested, to one queryset filter.

A condition is plain JSON, so automations and offerings can store it:

    {"has": 12}                      subscriber has tag 12
    {"has_not": 12}                  subscriber lacks tag 12
    {"and": [cond, cond, ...]}       all of them (Kit's "AND")
    {"or":  [cond, cond, ...]}       any of them (Kit's "OR")
    {"not": cond}                    the opposite
    {"field": {"key": "plan", "op": "equals", "value": "gold"}}
                                     a custom field test (Kit's operators: equals,
                                     not_equals, contains, not_contains, is_set, is_blank,
                                     gt, gte, lt, lte; gt..lte compare numbers or dates)
    {"email": {"activity": "opened", "within_days": 30}}
                                     has opened (or clicked, optionally a given "url")
                                     any email in the last N days (the guide's
                                     re-engagement test; wrap in "not" for "has not")
    {"state": "active"}              the subscriber's state (active, inactive, cancelled,
                                     bounced, complained: the broadcast audience builder's
                                     "subscriber state" test)

``condition_q`` turns a condition into a ``Q`` over ``Subscriber`` built from correlated
``EXISTS`` probes on the (tag, subscriber) index, so a whole segment is one SQL query and a
single subscriber's check is one indexed query whatever the number of tags.
``condition_evaluate`` answers the same question in Python for a known set of tag ids (dry
runs, previews); the two are tested against each other.
"""

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from apps.crm.models import EmailActivity, Subscriber, SubscriberFieldValue, SubscriberState

from .models import Tag, Tagging

CONDITION_MAX_DEPTH = 16
CONDITION_MAX_LEAVES = 200
_GROUPS = ("and", "or")
_LEAVES = ("has", "has_not")
FIELD_OPS = (
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "is_set",
    "is_blank",
    "gt",
    "gte",
    "lt",
    "lte",
)
_FIELD_OPS_WITHOUT_VALUE = ("is_set", "is_blank")
_ORDERING_OPS = ("gt", "gte", "lt", "lte")
_OPERATORS = "'has', 'has_not', 'field', 'email', 'state', 'and', 'or' or 'not'"
EMAIL_ACTIVITIES = ("opened", "clicked", "delivered")
EMAIL_WITHIN_DAYS_MAX = 3650


class ConditionError(ValueError):
    """A condition that cannot be compiled; the message names the place (``and[1].has``)."""


def _check_field(arg, here: str) -> None:
    if not isinstance(arg, dict):
        raise ConditionError(f"{here}: expected an object with 'key', 'op' and 'value'.")
    key, op = arg.get("key"), arg.get("op")
    if not isinstance(key, str) or not key.strip():
        raise ConditionError(f"{here}.key: expected a custom field key.")
    if op not in FIELD_OPS:
        raise ConditionError(f"{here}.op: expected one of {', '.join(FIELD_OPS)}, got {op!r}.")
    value = arg.get("value")
    if op not in _FIELD_OPS_WITHOUT_VALUE and (
        isinstance(value, bool) or not isinstance(value, str | int | float) or str(value) == ""
    ):
        raise ConditionError(
            f"{here}.value: operator {op!r} needs a value to compare with (for an empty "
            "field use is_blank)."
        )
    unknown = set(arg) - {"key", "op", "value"}
    if unknown:
        raise ConditionError(f"{here}: unknown setting(s) {', '.join(sorted(unknown))}.")


def _check_email(arg, here: str) -> None:
    if not isinstance(arg, dict):
        raise ConditionError(f"{here}: expected an object with 'activity' and 'within_days'.")
    if arg.get("activity") not in EMAIL_ACTIVITIES:
        raise ConditionError(
            f"{here}.activity: expected one of {', '.join(EMAIL_ACTIVITIES)}, "
            f"got {arg.get('activity')!r}."
        )
    days = arg.get("within_days")
    if isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= 3650:
        raise ConditionError(
            f"{here}.within_days: expected a number of days from 1 to "
            f"{EMAIL_WITHIN_DAYS_MAX}, got {days!r}."
        )
    if "url" in arg and (not isinstance(arg["url"], str) or not arg["url"].strip()):
        raise ConditionError(f"{here}.url: expected the link's URL.")
    unknown = set(arg) - {"activity", "within_days", "url"}
    if unknown:
        raise ConditionError(f"{here}: unknown setting(s) {', '.join(sorted(unknown))}.")


def _check_state(arg, here: str) -> None:
    if arg not in SubscriberState.values:
        raise ConditionError(
            f"{here}: expected one of {', '.join(SubscriberState.values)}, got {arg!r}."
        )


_VALUE_CHECKS = {"field": _check_field, "email": _check_email, "state": _check_state}


def _check(node, path: str, depth: int, leaves: list[int]) -> None:
    if depth > CONDITION_MAX_DEPTH:
        raise ConditionError(f"{path}: conditions nest deeper than {CONDITION_MAX_DEPTH} levels.")
    if not isinstance(node, dict) or len(node) != 1:
        raise ConditionError(f"{path}: expected an object with exactly one of {_OPERATORS}.")
    ((op, arg),) = node.items()
    here = f"{path}.{op}" if path else op
    if op in _VALUE_CHECKS:
        _VALUE_CHECKS[op](arg, here)
        leaves.append(0)
        if len(leaves) > CONDITION_MAX_LEAVES:
            raise ConditionError(f"{here}: more than {CONDITION_MAX_LEAVES} checks.")
    elif op in _LEAVES:
        if isinstance(arg, bool) or not isinstance(arg, int) or arg <= 0:
            raise ConditionError(f"{here}: expected a tag id (a positive integer), got {arg!r}.")
        leaves.append(arg)
        if len(leaves) > CONDITION_MAX_LEAVES:
            raise ConditionError(f"{here}: more than {CONDITION_MAX_LEAVES} tag checks.")
    elif op in _GROUPS:
        if not isinstance(arg, list) or not arg:
            raise ConditionError(f"{here}: expected a non-empty list of conditions.")
        for i, child in enumerate(arg):
            _check(child, f"{here}[{i}]", depth + 1, leaves)
    elif op == "not":
        _check(arg, here, depth + 1, leaves)
    else:
        raise ConditionError(f"{path or 'condition'}: unknown operator {op!r}; use {_OPERATORS}.")


def condition_size_check(condition) -> None:
    """Refuse a condition past CONDITION_MAX_DEPTH levels or CONDITION_MAX_LEAVES checks,
    looking at its shape only (tags may still be names): an import checks this before it
    looks up a single tag, so 20,000 OR terms are refused in milliseconds, not after
    20,000 lookups. No recursion, and it stops at the first limit passed."""
    stack, leaves = [(condition, 1)], 0
    while stack:
        node, depth = stack.pop()
        if depth > CONDITION_MAX_DEPTH:
            raise ConditionError(f"conditions nest deeper than {CONDITION_MAX_DEPTH} levels.")
        if not isinstance(node, dict) or len(node) != 1:
            continue  # the full check names the place
        ((op, arg),) = node.items()
        if op in _GROUPS and isinstance(arg, list):
            if len(arg) > CONDITION_MAX_LEAVES:  # each member holds one check at least
                raise ConditionError(f"more than {CONDITION_MAX_LEAVES} checks.")
            stack.extend((child, depth + 1) for child in arg)
        elif op == "not":
            stack.append((arg, depth + 1))
        else:
            leaves += 1
            if leaves > CONDITION_MAX_LEAVES:
                raise ConditionError(f"more than {CONDITION_MAX_LEAVES} checks.")


def condition_validate(condition) -> None:
    """Raise ConditionError if ``condition`` is not a well-formed condition."""
    _check(condition, "", 1, [])


def _walk(node):
    ((op, arg),) = node.items()
    yield op, arg
    if op in _GROUPS:
        for child in arg:
            yield from _walk(child)
    elif op == "not":
        yield from _walk(arg)


def condition_tag_ids(condition) -> set[int]:
    condition_validate(condition)
    return {arg for op, arg in _walk(condition) if op in _LEAVES}


def condition_field_keys(condition) -> set[str]:
    condition_validate(condition)
    return {arg["key"] for op, arg in _walk(condition) if op == "field"}


def _email_activity(arg: dict):
    """The activity rows an "email" test looks for, for the outer subscriber."""
    rows = EmailActivity.objects.filter(
        kind=arg["activity"], at__gte=timezone.now() - timedelta(days=arg["within_days"])
    )
    return rows.filter(url=arg["url"]) if arg.get("url") else rows


def _email_key(arg: dict) -> str:
    return json.dumps(arg, sort_keys=True)


def _has(tag_id: int) -> Q:
    return Q(Exists(Tagging.objects.filter(subscriber_id=OuterRef("pk"), tag_id=tag_id)))


def _field_q(arg: dict) -> Q:
    key, op, value = arg["key"], arg["op"], str(arg.get("value", ""))
    if op in _ORDERING_OPS:
        raise ConditionError(
            f"field {key!r} {op}: comparisons are checked per subscriber (automations), "
            "not in segments."
        )
    values = SubscriberFieldValue.objects.filter(subscriber_id=OuterRef("pk"), field__key=key)
    non_blank = values.exclude(value="")
    if op == "is_set":
        return Q(Exists(non_blank))
    if op == "is_blank":
        return ~Q(Exists(non_blank))
    if op in ("equals", "not_equals"):
        matching = values.filter(value__iexact=value)
    else:
        matching = values.filter(value__icontains=value)
    return Q(Exists(matching)) if op in ("equals", "contains") else ~Q(Exists(matching))


def _compile(node) -> Q:
    ((op, arg),) = node.items()
    if op == "state":
        return Q(state=arg)
    if op == "field":
        return _field_q(arg)
    if op == "email":
        return Q(Exists(_email_activity(arg).filter(subscriber_id=OuterRef("pk"))))
    if op == "has":
        return _has(arg)
    if op == "has_not":
        return ~_has(arg)
    if op == "not":
        return ~_compile(arg)
    parts = [_compile(child) for child in arg]
    combined = parts[0]
    for part in parts[1:]:
        combined = (combined & part) if op == "and" else (combined | part)
    return combined


def condition_q(condition) -> Q:
    """A filter for ``Subscriber`` querysets that keeps the subscribers matching ``condition``."""
    condition_validate(condition)
    return _compile(condition)


def subscribers_matching(condition, queryset: QuerySet[Subscriber] | None = None):
    base = queryset if queryset is not None else Subscriber.objects.all()
    return base.filter(condition_q(condition))


def _comparable(text: str):
    """A number, else a date or time, else None: what gt / lt compare."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    for parse in (datetime.fromisoformat, date.fromisoformat):
        try:
            parsed = parse(text)
        except ValueError:
            continue
        return parsed if isinstance(parsed, datetime) else datetime(*parsed.timetuple()[:3])
    return None


def _field_evaluate(arg: dict, fields: Mapping[str, str]) -> bool:
    op = arg["op"]
    current = fields.get(arg["key"]) or ""
    if op == "is_set":
        return current != ""
    if op == "is_blank":
        return current == ""
    wanted = str(arg["value"])
    if op in ("equals", "not_equals"):
        return (current.casefold() == wanted.casefold()) == (op == "equals")
    if op in ("contains", "not_contains"):
        return (wanted.casefold() in current.casefold()) == (op == "contains")
    left, right = _comparable(current), _comparable(wanted)
    if left is None or right is None or type(left) is not type(right):
        return False
    if isinstance(left, datetime) and (left.tzinfo is None) != (right.tzinfo is None):
        left, right = left.replace(tzinfo=None), right.replace(tzinfo=None)
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]


def _evaluate(
    node,
    tag_ids: frozenset[int],
    fields: Mapping[str, str],
    emails: Mapping[str, bool],
    state: str | None = None,
) -> bool:
    ((op, arg),) = node.items()
    if op == "state":
        return arg == state
    if op == "email":
        return emails.get(_email_key(arg), False)
    if op == "has":
        return arg in tag_ids
    if op == "has_not":
        return arg not in tag_ids
    if op == "field":
        return _field_evaluate(arg, fields)
    if op == "not":
        return not _evaluate(arg, tag_ids, fields, emails, state)
    results = (_evaluate(child, tag_ids, fields, emails, state) for child in arg)
    return all(results) if op == "and" else any(results)


def condition_evaluate(
    condition,
    tag_ids: Iterable[int],
    fields: Mapping[str, str] | None = None,
    emails: Mapping[str, bool] | None = None,
    state: str | None = None,
) -> bool:
    """Whether a subscriber holding exactly ``tag_ids`` (and these custom field values, by
    key; and these answers to "email" tests, by their JSON, else no; in ``state``) matches
    ``condition``."""
    condition_validate(condition)
    return _evaluate(condition, frozenset(tag_ids), fields or {}, emails or {}, state)


def subscriber_condition_evaluate(*, subscriber_id: int, condition) -> bool:
    """Evaluate for one subscriber as they are now: two indexed reads, then Python, so every
    operator (numbers and dates included) is available."""
    tag_ids = Tagging.objects.filter(subscriber_id=subscriber_id).values_list("tag_id", flat=True)
    keys = condition_field_keys(condition)
    fields = (
        dict(
            SubscriberFieldValue.objects.filter(
                subscriber_id=subscriber_id, field__key__in=keys
            ).values_list("field__key", "value")
        )
        if keys
        else {}
    )
    emails = {
        _email_key(arg): _email_activity(arg).filter(subscriber_id=subscriber_id).exists()
        for op, arg in _walk(condition)
        if op == "email"
    }
    state = (
        Subscriber.objects.filter(pk=subscriber_id).values_list("state", flat=True).first()
        if any(op == "state" for op, _ in _walk(condition))
        else None
    )
    return condition_evaluate(condition, list(tag_ids), fields, emails, state)


def condition_tag_choices() -> list[tuple[int, str]]:
    """Every tag a condition may name, as (id, name) by name: what a condition builder offers
    (crm's broadcast audience builder reads it through its one allowed edge to this module)."""
    return list(Tag.objects.order_by("name").values_list("id", "name"))
