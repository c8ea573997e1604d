import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


def lesson_offering_fill(apps, schema_editor):
    Lesson = apps.get_model("offerings", "Lesson")
    for lesson in Lesson.objects.select_related("module").iterator():
        lesson.offering_id = lesson.module.offering_id
        lesson.save(update_fields=["offering"])


def lesson_slugs_dedupe(apps, schema_editor):
    """Slugs were unique per module; make them unique per offering before the constraint."""
    Lesson = apps.get_model("offerings", "Lesson")
    seen = set()
    for lesson in Lesson.objects.order_by("offering_id", "module__position", "position", "pk"):
        slug, n = lesson.slug, 2
        while (lesson.offering_id, slug) in seen:
            slug, n = f"{lesson.slug}-{n}", n + 1
        seen.add((lesson.offering_id, slug))
        if slug != lesson.slug:
            lesson.slug = slug
            lesson.save(update_fields=["slug"])


class Migration(migrations.Migration):
    dependencies = [("offerings", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="offering",
            name="image",
            field=models.FileField(
                blank=True,
                help_text="A JPEG, PNG, WebP or GIF picture shown on the member's dashboard.",
                upload_to="offerings/images/",
                validators=[
                    django.core.validators.FileExtensionValidator(
                        ["jpg", "jpeg", "png", "webp", "gif"]
                    )
                ],
            ),
        ),
        migrations.AddField(
            model_name="offering",
            name="progression",
            field=models.CharField(
                choices=[
                    ("free", "Any open lesson, in any order"),
                    (
                        "in_order",
                        "In order: a lesson opens when the previous one is complete",
                    ),
                ],
                default="free",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="lesson",
            name="offering",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="lessons",
                to="offerings.offering",
            ),
        ),
        migrations.RunPython(lesson_offering_fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="lesson",
            name="offering",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="lessons",
                to="offerings.offering",
            ),
        ),
        migrations.RemoveConstraint(model_name="lesson", name="offerings_lesson_slug"),
        migrations.RunPython(lesson_slugs_dedupe, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="lesson",
            constraint=models.UniqueConstraint(
                fields=("offering", "slug"), name="offerings_lesson_slug"
            ),
        ),
        migrations.AddField(
            model_name="lesson",
            name="video_url",
            field=models.URLField(
                blank=True,
                help_text="A YouTube, Vimeo, Wistia, Loom or Bunny Stream address, shown above the text.",
                max_length=500,
            ),
        ),
        migrations.AlterField(
            model_name="lesson",
            name="slug",
            field=models.SlugField(
                blank=True,
                help_text="The lesson's address; left empty, it is made from the title.",
                max_length=200,
            ),
        ),
        migrations.CreateModel(
            name="LessonAttachment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(blank=True, max_length=200)),
                ("file", models.FileField(upload_to="lessons/attachments/%Y/%m/")),
                ("position", models.PositiveIntegerField(default=0)),
                (
                    "lesson",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attachments",
                        to="offerings.lesson",
                    ),
                ),
            ],
            options={"ordering": ["lesson", "position", "pk"]},
        ),
    ]
