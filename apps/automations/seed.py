"""The guide's automations, built through the importer (the same path as a template file);
the release flow is the Course launch template's."""

from .facts import offering_facts_all
from .models import Automation
from .portable import SCHEMA, VERSION, automation_import
from .templates import CourseLaunch, course_launch_spec

_META = ("schema", "version")

FC = "Foundation Course"
FOUNDATION_LAUNCH = CourseLaunch(
    course=FC,
    offering=FC,
    purchase_tag=f"{FC} – Purchase Success",
    release_tag=f"{FC} – Release Webhook",
    update_tag=f"{FC} – Update User",
    revoke_tag=f"{FC} – Revoke Access",
    modules=((f"{FC} – Module 2 Access", 7), (f"{FC} – Module 3 Access", 14)),
)


def _tag(kind: str, name: str) -> dict:
    return {"kind": kind, "settings": {"tag": name}}


GUIDE_AUTOMATIONS = [
    # The Course launch template, as a creator would build it for the guide's course.
    {k: v for k, v in course_launch_spec(FOUNDATION_LAUNCH).items() if k not in _META},
    {
        "name": "Course Completion – Conditional Path",
        "triggers": [{"event_type": "tag_add", "tag": "Course Complete"}],
        "steps": [
            {
                "kind": "condition",
                "settings": {"condition": {"has": "VIP Member"}},
                "yes": [_tag("add_tag", "Certificate – VIP")],
                "no": [_tag("add_tag", "Certificate – Standard")],
            },
        ],
    },
    {
        "name": "Assessment – Multi-level Tracks",
        "triggers": [{"event_type": "tag_add", "tag": "Assessment Complete"}],
        "steps": [
            {
                "kind": "condition",
                "settings": {"condition": {"has": "Advanced Level"}},
                "yes": [_tag("add_tag", "Track – Advanced")],
                "no": [
                    {
                        "kind": "condition",
                        "settings": {"condition": {"has": "Intermediate Level"}},
                        "yes": [_tag("add_tag", "Track – Intermediate")],
                        "no": [_tag("add_tag", "Track – Beginner")],
                    },
                ],
            },
        ],
    },
    {
        "name": "Upsell After Foundation",
        "triggers": [{"event_type": "tag_add", "tag": "Module 5 Complete"}],
        "steps": [
            {"kind": "delay", "settings": {"amount": 2, "unit": "days"}},
            {
                "kind": "condition",
                "settings": {"condition": {"has_not": "Advanced Course Student"}},
                "yes": [_tag("add_tag", "Upsell – Advanced Offer")],
                "no": [{"kind": "end", "settings": {}}],
            },
        ],
    },
    {
        "name": "Progress-gated Bonus (AND)",
        "triggers": [{"event_type": "tag_add", "tag": "Module 2 Complete"}],
        "steps": [
            {
                "kind": "condition",
                "settings": {
                    "condition": {
                        "and": [{"has": "Module 1 Complete"}, {"has": "Module 2 Complete"}]
                    }
                },
                "yes": [_tag("add_tag", "Bonus – Unlocked")],
                "no": [],
            },
        ],
    },
    {
        "name": "Member Perks (OR)",
        "triggers": [{"event_type": "tag_add", "tag": "Course Complete"}],
        "steps": [
            {
                "kind": "condition",
                "settings": {
                    "condition": {"or": [{"has": "Silver Member"}, {"has": "Gold Member"}]}
                },
                "yes": [_tag("add_tag", "Perks – Member Discount")],
                "no": [],
            },
        ],
    },
]


def seed_guide_automations() -> list[str]:
    existing = set(Automation.objects.values_list("name", flat=True))
    offerings = {o.name for o in offering_facts_all()}
    created, lines = 0, []
    for spec in GUIDE_AUTOMATIONS:
        if spec["name"] in existing:
            continue
        if spec is GUIDE_AUTOMATIONS[0] and FOUNDATION_LAUNCH.offering not in offerings:
            lines.append(f"Automation {spec['name']!r}: skipped (no {FC!r} offering yet)")
            continue
        automation_import({"schema": SCHEMA, "version": VERSION, "status": "live", **spec})
        created += 1
    return [f"Automations: {len(GUIDE_AUTOMATIONS)} from the guide ({created} new)", *lines]
