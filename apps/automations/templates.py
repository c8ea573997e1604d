"""Automation templates: whole flows built in one click, as drafts to review and switch live.

"Course launch" is the guide's release flow for one offering: the purchase tag enters; the
release webhook tag runs the Release Offering operation; the run waits for that release's own
event, "access granted" to this offering (not a 5-minute guess, and not "login created", which
a returning buyer never produces), at most ``RELEASE_WAIT_DAYS``; the welcome email goes
out; then each weekly module tag is added followed by the Update User
webhook tag; at the end, the revoke tag pulls anyone still in the flow forward to a last
update. The demo's seed builds its release flow through the same function.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from .facts import OfferingFacts, offering_facts_all
from .models import Automation
from .portable import SCHEMA, VERSION, automation_import

# The guide's welcome email: the stored password when the offering keeps one in the CRM
# field; else, for a new login, a one-time link to choose a password; else (a returning member
# who has a password already) a one-time login link. No login yet: ``login_url`` is undefined
# and the email is held until the login exists.
WELCOME_BODY = (
    "Hi {{{{ subscriber.first_name | default: 'there' }}}},\n\n"
    "Welcome to the {course}! Log in at {{{{ login_url }}}} with "
    "{{{{ subscriber.email_address }}}}.\n\n"
    "{{% if subscriber.{field} %}}Your password: {{{{ subscriber.{field} }}}}"
    "{{% elsif set_password_url %}}Choose your password (the link works once): "
    "{{{{ set_password_url }}}}"
    "{{% else %}}Use your password, or log in with this one-time link: {{{{ login_link_url }}}}"
    "{{% endif %}}\n"
)
# A release that has not happened after this long moves the run on rather than stranding it
# (the welcome email is then held until the login exists, and shows in Health).
RELEASE_WAIT_DAYS = 2
RELEASE_WAIT_LABEL = "Wait for the release (access granted)"


@dataclass(frozen=True)
class CourseLaunch:
    """What the Course launch template needs, by tag name (a template file moves between
    sites, so it names tags rather than numbering them)."""

    course: str
    # The offering's name: the release event the flow waits for is access to it.
    offering: str
    purchase_tag: str
    release_tag: str
    update_tag: str
    revoke_tag: str
    # (module access tag, days after access was granted), in release order.
    modules: tuple[tuple[str, int], ...]
    password_field: str = "accessally_password"


def _tag(kind: str, name: str) -> dict:
    return {"kind": kind, "settings": {"tag": name}}


def _update_user(launch: CourseLaunch) -> list[dict]:
    # Removed first, so adding it fires the Update User webhook even if it was still there.
    return [_tag("remove_tag", launch.update_tag), _tag("add_tag", launch.update_tag)]


def course_launch_spec(launch: CourseLaunch, *, name: str | None = None) -> dict:
    """The flow as an automation document (``portable`` schema), ready to import."""
    steps = [
        _tag("add_tag", launch.release_tag),
        {
            "kind": "event",
            "settings": {
                "event_type": "access_granted",
                "offering": launch.offering,
                "timeout": {"amount": RELEASE_WAIT_DAYS, "unit": "days"},
            },
            "label": RELEASE_WAIT_LABEL,
        },
        {
            "kind": "send_email",
            "label": "Welcome email with the login",
            "settings": {
                "subject": f"Welcome to the {launch.course}",
                "purchase": True,
                "body": WELCOME_BODY.format(course=launch.course, field=launch.password_field),
            },
        },
        _tag("remove_tag", launch.release_tag),
    ]
    waited = 0
    for tag, days in launch.modules:
        if days > waited:
            steps.append({"kind": "delay", "settings": {"amount": days - waited, "unit": "days"}})
            waited = days
        steps += [_tag("add_tag", tag), *_update_user(launch)]
    steps += [
        {"kind": "event", "settings": {"event_type": "tag_add", "tag": launch.revoke_tag}},
        *_update_user(launch),
    ]
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "name": name or f"{launch.course} – Release",
        "description": (
            "The guide's release flow: release webhook, welcome email once access is granted "
            "(new and returning members alike), weekly modules with Update User, revoke at "
            "the end."
        ),
        "triggers": [{"event_type": "tag_add", "tag": launch.purchase_tag}],
        "steps": steps,
    }


def course_launch_from_offering(offering: OfferingFacts) -> CourseLaunch:
    """The offering's tags and Webhook Generator endpoints as a launch; errors say what to
    set up first."""
    release = offering.webhook_tags.get("release") or {}
    update = offering.webhook_tags.get("update") or {}
    missing = [
        label
        for label, tags in (("Release Offering", release), ("Update User", update))
        if not tags
    ]
    if missing:
        raise ValidationError(
            f"{offering.name!r} has no active {' or '.join(missing)} webhook endpoint with a "
            "trigger tag; mint one in the Webhook Generator (admin → Webhook endpoints) first."
        )
    return CourseLaunch(
        course=offering.name,
        offering=offering.name,
        purchase_tag=offering.purchase_tag,
        release_tag=min(release.items())[1],
        update_tag=min(update.items())[1],
        revoke_tag=offering.revoke_tag,
        # Modules that open at once come with the grant; "no schedule" ones with their tag.
        modules=tuple(
            sorted(
                ((m.access_tag, m.release_days) for m in offering.modules if m.release_days),
                key=lambda pair: pair[1],
            )
        ),
        password_field=offering.password_field_key,
    )


def automation_template_course_launch(*, offering_id: int, name: str = "") -> Automation:
    """Build the Course launch flow for an offering, as a draft."""
    offering = next((o for o in offering_facts_all() if o.id == offering_id), None)
    if offering is None:
        raise ValidationError(f"No offering has id {offering_id}; choose one from the list.")
    spec = course_launch_spec(course_launch_from_offering(offering), name=name.strip() or None)
    return automation_import(spec, status="draft")
