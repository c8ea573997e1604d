"""The tag-condition compiler: has / has not, AND / OR / NOT, nested, to one queryset filter.

A condition is plain JSON, so automations and offerings can store it:

    {"has": 12}                      subscriber has tag 12
    {"has_not": 12}                  subscriber lacks tag 12
    {"and": [cond, cond, ...]}       all of them (Kit's "AND")
    {"or":  [cond, cond, ...]}       any of them (Kit's "OR")
    {"not": cond}                    the opposite

``condition_q`` turns a condition into a ``Q`` over ``Subscriber`` built from correlated
``EXISTS`` probes on the (tag, subscriber) index, so a whole segment is one SQL query and a
single subscriber's check is one indexed query whatever the number of tags.
``condition_evaluate`` answers the same question in Python for a known set of tag ids (dry
runs, previews); the two are tested against each other.
"""

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q, QuerySet

from apps.crm.models import Subscriber

from .models import Tagging

CONDITION_MAX_DEPTH = 16
CONDITION_MAX_LEAVES = 200
_GROUPS = ("and", "or")
_LEAVES = ("has", "has_not")


class ConditionError(ValueError):
    """A condition that cannot be compiled; the message names the place (``and[1].has``)."""


def _check(node, path: str, depth: int, leaves: list[int]) -> None:
    if depth > CONDITION_MAX_DEPTH:
        raise ConditionError(f"{path}: conditions nest deeper than {CONDITION_MAX_DEPTH} levels.")
    if not isinstance(node, dict) or len(node) != 1:
        raise ConditionError(
            f"{path}: expected an object with exactly one of 'has', 'has_not', 'and', 'or', 'not'."
        )
    ((op, arg),) = node.items()
    here = f"{path}.{op}" if path else op
    if op in _LEAVES:
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
        raise ConditionError(
            f"{path or 'condition'}: unknown operator {op!r}; "
            "use 'has', 'has_not', 'and', 'or' or 'not'."
        )


def condition_validate(condition) -> None:
    """Raise ConditionError if ``condition`` is not a well-formed condition."""
    _check(condition, "", 1, [])


def condition_tag_ids(condition) -> set[int]:
    leaves: list[int] = []
    _check(condition, "", 1, leaves)
    return set(leaves)


def _has(tag_id: int) -> Q:
    return Q(Exists(Tagging.objects.filter(subscriber_id=OuterRef("pk"), tag_id=tag_id)))


def _compile(node) -> Q:
    ((op, arg),) = node.items()
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


def subscriber_matches(*, subscriber_id: int, condition) -> bool:
    return Subscriber.objects.filter(pk=subscriber_id).filter(condition_q(condition)).exists()


def _evaluate(node, tag_ids: frozenset[int]) -> bool:
    ((op, arg),) = node.items()
    if op == "has":
        return arg in tag_ids
    if op == "has_not":
        return arg not in tag_ids
    if op == "not":
        return not _evaluate(arg, tag_ids)
    results = (_evaluate(child, tag_ids) for child in arg)
    return all(results) if op == "and" else any(results)


def condition_evaluate(condition, tag_ids: Iterable[int]) -> bool:
    """Whether a subscriber holding exactly ``tag_ids`` matches ``condition``."""
    condition_validate(condition)
    return _evaluate(condition, frozenset(tag_ids))
