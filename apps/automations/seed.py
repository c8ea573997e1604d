"""The guide's automations, built through the importer (the same path as a template file)."""

from .models import Automation
from .portable import SCHEMA, VERSION, automation_import

FC = "Foundation Course"
# The guide's welcome email: the stored password when the offering keeps one in the CRM
# field, else a one-time link to choose one. Either variable missing holds the email.
WELCOME_BODY = (
    "Hi {{ subscriber.first_name | default: 'there' }},\n\n"
    "Welcome to the Foundation Course! Log in at {{ login_url }} with "
    "{{ subscriber.email_address }}.\n\n"
    "{% if subscriber.accessally_password %}Your password: {{ subscriber.accessally_password }}"
    "{% else %}Choose your password (the link works once): {{ set_password_url }}{% endif %}\n"
)


def _tag(kind: str, name: str) -> dict:
    return {"kind": kind, "settings": {"tag": name}}


def _module_release(number: int) -> list[dict]:
    return [
        {"kind": "delay", "settings": {"amount": 7, "unit": "days"}},
        _tag("add_tag", f"{FC} – Module {number} Access"),
        _tag("remove_tag", f"{FC} – Update User"),
        _tag("add_tag", f"{FC} – Update User"),
    ]


GUIDE_AUTOMATIONS = [
    {
        "name": f"{FC} – Release",
        "description": (
            "The guide's release flow: release webhook, weekly modules, revoke at the end."
        ),
        "triggers": [{"event_type": "tag_add", "tag": f"{FC} – Purchase Success"}],
        "steps": [
            _tag("add_tag", f"{FC} – Release Webhook"),
            # Instead of the guide's 5-minute guess: wait until the login exists.
            {
                "kind": "event",
                "settings": {"event_type": "member_login_created"},
                "label": "Wait for the member login",
            },
            {
                "kind": "send_email",
                "label": "Welcome email with the login",
                "settings": {
                    "subject": "Welcome to the Foundation Course",
                    "purchase": True,
                    "body": WELCOME_BODY,
                },
            },
            _tag("remove_tag", f"{FC} – Release Webhook"),
            *_module_release(2),
            *_module_release(3),
            {
                "kind": "event",
                "settings": {"event_type": "tag_add", "tag": f"{FC} – Revoke Access"},
            },
            _tag("remove_tag", f"{FC} – Update User"),
            _tag("add_tag", f"{FC} – Update User"),
        ],
    },
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
    created = 0
    for spec in GUIDE_AUTOMATIONS:
        if spec["name"] in existing:
            continue
        automation_import({"schema": SCHEMA, "version": VERSION, "status": "live", **spec})
        created += 1
    return [f"Automations: {len(GUIDE_AUTOMATIONS)} from the guide ({created} new)"]
