"""The guide's tags, and a few of them on the demo subscribers."""

from apps.crm.models import Subscriber

from .services import tag_get_or_create, taggings_add

GUIDE_TAGS = [
    "Foundation Course – Purchase Success",
    "Foundation Course – Base Access",
    "Foundation Course – Release Webhook",
    "Foundation Course – Update User",
    "Foundation Course – Revoke Access",
    "Foundation Course – Module 1 Complete",
    "Foundation Course – Module 2 Complete",
    "Module 1 Complete",
    "Module 2 Complete",
    "Module 5 Complete",
    "Course Complete",
    "VIP Member",
    "Assessment Complete",
    "Advanced Level",
    "Intermediate Level",
    "Advanced Course Student",
    "Silver Member",
    "Gold Member",
    "Track – Marketing",
    "Track – Sales",
    "Track – Operations",
]

DEMO_TAGGINGS = {
    "ada@example.com": ["VIP Member", "Gold Member", "Module 1 Complete", "Module 2 Complete"],
    "grace@example.com": ["Silver Member", "Advanced Level", "Assessment Complete"],
    "alan@example.com": ["Intermediate Level", "Module 5 Complete"],
    "katherine@example.com": ["Track – Marketing"],
}


def seed_guide_tags() -> list[str]:
    tags = {name: tag_get_or_create(name=name)[0] for name in GUIDE_TAGS}
    subscribers = dict(
        Subscriber.objects.filter(email__in=list(DEMO_TAGGINGS)).values_list("email", "pk")
    )
    pairs = [
        (subscribers[email], tags[name].pk)
        for email, names in DEMO_TAGGINGS.items()
        if email in subscribers
        for name in names
    ]
    added = taggings_add(pairs=pairs, source="demo")
    return [f"Tags: {len(GUIDE_TAGS)} from the guide ({len(added)} new taggings)"]
