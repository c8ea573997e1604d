"""The guide's offering: Foundation Course, a base module and modules that open weekly."""

from .models import Offering
from .services import lesson_add, module_add, offering_create

FOUNDATION = "Foundation Course"
MODULES = [
    ("Getting Started", "immediately", 0),
    ("Building the Habit", "days_after", 7),
    ("Going Further", "days_after", 14),
]
# The first lesson shows a player (a public Vimeo demo video) as a creator would add one.
WELCOME_VIDEO = "https://vimeo.com/76979871"
LESSON_BODY = (
    "<p>Welcome to <strong>{module}</strong>. Read this lesson, try the exercise, then mark it "
    "complete.</p><ul><li>Read</li><li>Practise</li><li>Reflect</li></ul>"
)


def seed_foundation_course() -> list[str]:
    if Offering.objects.filter(name=FOUNDATION).exists():
        return [f"Offering: {FOUNDATION} (already there)"]
    offering = offering_create(
        name=FOUNDATION,
        kind="stage_release",
        description=(
            "The guide's example course: a first module open at once, then one module a week."
        ),
    )
    for number, (title, rule, days) in enumerate(MODULES, start=1):
        module = module_add(offering=offering, title=title, release_rule=rule, release_days=days)
        for part in (1, 2):
            lesson_add(
                module=module,
                title=f"{title} – Part {part}",
                body=LESSON_BODY.format(module=title),
                completion_tag=f"{FOUNDATION} – Module {number} Complete" if part == 2 else None,
                video_url=WELCOME_VIDEO if (number, part) == (1, 1) else "",
            )
    return [f"Offering: {FOUNDATION} with {len(MODULES)} modules (weekly drip)"]
