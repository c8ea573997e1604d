"""What in offerings uses a tag (for tags.dependents)."""

from django.db.models import Q

from .models import Lesson, Module, Offering


def offering_uses_of_tag(tag_id: int) -> list[str]:
    offerings = Offering.objects.filter(
        Q(base_tag_id=tag_id)
        | Q(instant_tag_id=tag_id)
        | Q(revoke_tag_id=tag_id)
        | Q(purchase_tag_id=tag_id)
    )
    return (
        [f"access tag of offering {o.name!r}" for o in offerings]
        + [
            f"access tag of module {m}"
            for m in Module.objects.filter(access_tag_id=tag_id).select_related("offering")
        ]
        + [
            f"completion tag of lesson {lesson.title!r}"
            for lesson in Lesson.objects.filter(completion_tag_id=tag_id)
        ]
    )
