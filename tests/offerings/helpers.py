from apps.offerings.services import lesson_add, module_add, offering_create


def weekly_course(
    name: str = "Foundation Course", *, store_password: bool = False, modules: int = 3
):
    """A base module that opens at once, then one module a week, two lessons each."""
    offering = offering_create(name=name, store_password=store_password)
    for number in range(1, modules + 1):
        module = module_add(
            offering=offering,
            title=f"Module {number}",
            release_rule="immediately" if number == 1 else "days_after",
            release_days=7 * (number - 1),
        )
        for part in (1, 2):
            lesson_add(
                module=module,
                title=f"M{number} lesson {part}",
                body=f"<p>Lesson {part}</p><script>alert(1)</script>",
                completion_tag=f"{name} – Module {number} Complete" if part == 2 else None,
            )
    return offering
