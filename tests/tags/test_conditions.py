import random

import pytest

from apps.crm.models import Subscriber
from apps.tags.conditions import (
    CONDITION_MAX_DEPTH,
    ConditionError,
    condition_evaluate,
    condition_q,
    condition_tag_ids,
    condition_validate,
    subscribers_matching,
)
from apps.tags.models import Tag, Tagging
from tests.factories import SubscriberFactory, TagFactory

pytestmark = pytest.mark.django_db

SEED = 20261124
TAG_COUNT = 6
SUBSCRIBER_COUNT = 80
TREES = 150


def subscriber_matches(*, subscriber_id: int, condition) -> bool:
    """One subscriber checked with the compiled filter (the test's probe; production code
    filters querysets with ``subscribers_matching``)."""
    return Subscriber.objects.filter(pk=subscriber_id).filter(condition_q(condition)).exists()


FIELD_VALUES = ["gold", "Gold Plan", "silver", ""]
FIELD_OPS = ["equals", "not_equals", "contains", "not_contains", "is_set", "is_blank"]


def field_brute_force(arg: dict, fields: dict) -> bool:
    value = fields.get(arg["key"], "")
    wanted = str(arg.get("value", "")).lower()
    return {
        "equals": value.lower() == wanted,
        "not_equals": value.lower() != wanted,
        "contains": wanted in value.lower(),
        "not_contains": wanted not in value.lower(),
        "is_set": value != "",
        "is_blank": value == "",
    }[arg["op"]]


def brute_force(node, tags: set[int], fields: dict | None = None) -> bool:
    """An independent reading of the condition language, for the comparison below."""
    op, arg = next(iter(node.items()))
    if op == "field":
        return field_brute_force(arg, fields or {})
    if op == "has":
        return arg in tags
    if op == "has_not":
        return arg not in tags
    if op == "not":
        return not brute_force(arg, tags, fields)
    if op == "and":
        return all(brute_force(child, tags, fields) for child in arg)
    return any(brute_force(child, tags, fields) for child in arg)


def random_tree(rng: random.Random, tag_ids: list[int], depth: int = 0, fields: bool = False):
    roll = rng.random()
    if fields and roll < 0.15:
        op = rng.choice(FIELD_OPS)
        leaf = {"key": "plan", "op": op}
        if op not in ("is_set", "is_blank"):
            leaf["value"] = rng.choice(["gold", "GOLD", "plan", "silver"])
        return {"field": leaf}
    if depth >= 4 or roll < 0.35:
        return {rng.choice(["has", "has_not"]): rng.choice(tag_ids)}
    if roll < 0.5:
        return {"not": random_tree(rng, tag_ids, depth + 1)}
    width = rng.randint(1, 4)
    return {rng.choice(["and", "or"]): [random_tree(rng, tag_ids, depth + 1) for _ in range(width)]}


@pytest.fixture
def random_population():
    rng = random.Random(SEED)
    tags = [TagFactory() for _ in range(TAG_COUNT)]
    tag_ids = [t.pk for t in tags]
    subscribers = SubscriberFactory.create_batch(SUBSCRIBER_COUNT)
    holdings = {s.pk: {t for t in tag_ids if rng.random() < 0.45} for s in subscribers}
    Tagging.objects.bulk_create(
        Tagging(subscriber_id=sid, tag_id=tid) for sid, held in holdings.items() for tid in held
    )
    return rng, tag_ids, holdings


def test_nested_trees_match_a_brute_force_evaluation(random_population):
    rng, tag_ids, holdings = random_population
    for _ in range(TREES):
        tree = random_tree(rng, tag_ids)
        expected = {sid for sid, held in holdings.items() if brute_force(tree, held)}

        got = set(subscribers_matching(tree).values_list("pk", flat=True))

        assert got == expected, tree
        assert all(
            condition_evaluate(tree, held) == (sid in expected) for sid, held in holdings.items()
        ), tree


def test_a_segment_count_is_one_query(random_population, django_assert_num_queries):
    _, tag_ids, _ = random_population
    a, b, c = tag_ids[:3]
    tree = {"or": [{"and": [{"has": a}, {"has_not": b}]}, {"has": c}]}

    with django_assert_num_queries(1):
        subscribers_matching(tree).count()


def test_one_subscribers_check_is_one_query_whatever_the_number_of_tags(
    django_assert_num_queries,
):
    subscriber = SubscriberFactory()
    tags = TagFactory.create_batch(30)
    Tagging.objects.bulk_create(Tagging(subscriber=subscriber, tag=t) for t in tags[::2])
    tree = {"and": [{"has": t.pk} for t in tags[::2]] + [{"has_not": t.pk} for t in tags[1::2]]}

    with django_assert_num_queries(1):
        assert subscriber_matches(subscriber_id=subscriber.pk, condition=tree)


def test_the_guides_examples():
    silver, gold, m1, m2, advanced = (
        TagFactory(name=n) for n in ["Silver", "Gold", "M1 Complete", "M2 Complete", "Adv"]
    )
    both = SubscriberFactory()
    Tagging.objects.bulk_create(
        [
            Tagging(subscriber=both, tag=m1),
            Tagging(subscriber=both, tag=m2),
            Tagging(subscriber=both, tag=silver),
        ]
    )
    one = SubscriberFactory()
    Tagging.objects.bulk_create(
        [
            Tagging(subscriber=one, tag=m1),
            Tagging(subscriber=one, tag=gold),
            Tagging(subscriber=one, tag=advanced),
        ]
    )

    and_tree = {"and": [{"has": m1.pk}, {"has": m2.pk}]}
    or_tree = {"or": [{"has": silver.pk}, {"has": gold.pk}]}
    upsell = {"and": [{"has": m1.pk}, {"has_not": advanced.pk}]}

    assert set(subscribers_matching(and_tree)) == {both}
    assert set(subscribers_matching(or_tree)) == {both, one}
    assert set(subscribers_matching(upsell)) == {both}


@pytest.mark.parametrize(
    "tree, message",
    [
        ({}, "exactly one"),
        ({"has": 1, "or": []}, "exactly one"),
        ({"and": []}, "and: expected a non-empty list"),
        ({"or": [{"has": 1}, {"has": "VIP"}]}, "or[1].has: expected a tag id"),
        ({"and": [{"not": {"xor": [1]}}]}, "unknown operator 'xor'"),
        ({"has": True}, "has: expected a tag id"),
        ({"has_not": -3}, "has_not: expected a tag id"),
        ("has 1", "exactly one"),
    ],
)
def test_a_malformed_condition_names_the_bad_place(tree, message):
    with pytest.raises(ConditionError, match=message.replace("[", r"\[").replace("]", r"\]")):
        condition_validate(tree)


def test_depth_is_bounded():
    tree = {"has": 1}
    for _ in range(CONDITION_MAX_DEPTH):
        tree = {"not": tree}
    with pytest.raises(ConditionError, match="deeper than"):
        condition_validate(tree)


def test_tag_ids_lists_every_tag_a_condition_reads():
    assert condition_tag_ids(
        {"or": [{"has": 1}, {"not": {"and": [{"has_not": 2}, {"has": 1}]}}]}
    ) == {1, 2}


def test_no_subscriber_matches_a_tag_nobody_has():
    SubscriberFactory.create_batch(3)
    assert not subscribers_matching({"has": 999_999}).exists()
    assert Subscriber.objects.filter(pk__in=subscribers_matching({"has_not": 999_999})).count() == 3
    assert not Tag.objects.filter(pk=999_999).exists()


def test_trees_with_custom_field_tests_match_in_sql_and_in_python(random_population):
    """The SQL compiler (segments) and the Python evaluator (automations) agree on every
    operator both support."""
    from apps.crm.models import SubscriberFieldValue
    from apps.crm.services import custom_field_create

    rng, tag_ids, holdings = random_population
    field = custom_field_create(label="Plan")
    plans = {sid: rng.choice(FIELD_VALUES) for sid in holdings}
    SubscriberFieldValue.objects.bulk_create(
        SubscriberFieldValue(subscriber_id=sid, field=field, value=v)
        for sid, v in plans.items()
        if v
    )
    for _ in range(TREES):
        tree = random_tree(rng, tag_ids, fields=True)
        expected = {
            sid for sid, held in holdings.items() if brute_force(tree, held, {"plan": plans[sid]})
        }

        got = set(subscribers_matching(tree).values_list("pk", flat=True))

        assert got == expected, tree
        for sid, held in holdings.items():
            assert condition_evaluate(tree, held, {"plan": plans[sid]}) == (sid in expected), tree
