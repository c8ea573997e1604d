"""Learning joins the roles: Owner holds every permission again; a Creator builds quizzes,
choices and certificate templates and reads attempts, picks and issued certificates (members
make those); Support reads what a member asks about."""

from django.db import migrations

BUILT = ("quiz", "question", "option", "scoreband", "choice", "choiceoption")
BUILT += ("certificatetemplate", "certificatevariant")
MADE_BY_MEMBERS = ("quizattempt", "choicepick", "certificate")
CREATOR = {f"learning.{m}": "add change delete view" for m in BUILT} | {
    f"learning.{m}": "view" for m in MADE_BY_MEMBERS
}
SUPPORT = {f"learning.{m}": "view" for m in MADE_BY_MEMBERS}


def roles_extend(apps, schema_editor):
    from apps.staff.roles import roles_extend as extend

    extend(apps, creator=CREATOR, support=SUPPORT)


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0003_commerce_roles"),
        ("learning", "0001_initial"),
        # Owner gets every permission that exists by then: the OAuth models too (named
        # migrations, never "__latest__").
        ("oauth2_provider", "0013_alter_application_authorization_grant_type_device"),
    ]

    operations = [migrations.RunPython(roles_extend, migrations.RunPython.noop)]
