"""Choices (tracks): a member picks an option; its tag is added and the other options' tags
removed, through the tag services (automations see the track at once)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.crm.events import event_record
from apps.crm.models import Subscriber
from apps.offerings.models import Lesson, Offering
from apps.tags.services import tag_get_or_create, taggings_add, taggings_remove

from ..checks import choice_options_check
from ..event_types import CHOICE_MADE
from ..lock_objects import subscribers_for_update
from ..models import Choice, ChoiceOption, ChoicePick


@transaction.atomic
def choice_create(
    *,
    offering: Offering,
    question: str,
    options: list[tuple[str, str]],
    lesson: Lesson | None = None,
    changeable: bool = True,
) -> Choice:
    """``options``: (label, tag name) pairs, each tag made if it does not exist yet."""
    choice_options_check(options)
    if lesson is not None and lesson.offering_id != offering.pk:
        raise ValidationError(f"The lesson “{lesson.title}” is not in “{offering.name}”.")
    choice = Choice.objects.create(
        offering=offering, lesson=lesson, question=question, changeable=changeable
    )
    ChoiceOption.objects.bulk_create(
        ChoiceOption(choice=choice, position=i, label=label, tag=tag_get_or_create(name=tag)[0])
        for i, (label, tag) in enumerate(options)
    )
    return choice


@transaction.atomic
def choice_pick(*, subscriber: Subscriber, option: ChoiceOption) -> ChoicePick:
    """Record the member's pick and swap the tags; refused when they already chose and the
    choice cannot be changed. Picking the same option again changes nothing."""
    list(subscribers_for_update([subscriber.pk]))
    choice = option.choice
    pick = ChoicePick.objects.filter(choice=choice, subscriber=subscriber).first()
    if pick is not None:
        if pick.option_id == option.pk:
            return pick
        if not choice.changeable:
            raise ValidationError(
                f"You already chose “{pick.option.label}”, and this choice cannot be changed."
            )
        pick.option, pick.picked_at = option, timezone.now()
        pick.save(update_fields=["option", "picked_at"])
    else:
        pick = ChoicePick.objects.create(
            choice=choice, subscriber=subscriber, option=option, picked_at=timezone.now()
        )
    others = choice.options.exclude(pk=option.pk).values_list("tag_id", flat=True)
    source = f"choice:{choice.pk}"
    taggings_remove(pairs=[(subscriber.pk, t) for t in others if t != option.tag_id], source=source)
    taggings_add(pairs=[(subscriber.pk, option.tag_id)], source=source)
    event_record(
        subscriber_id=subscriber.pk,
        type=CHOICE_MADE,
        payload={
            "choice_id": choice.pk,
            "offering_id": choice.offering_id,
            "option": option.label,
            "tag_id": option.tag_id,
        },
    )
    return pick
