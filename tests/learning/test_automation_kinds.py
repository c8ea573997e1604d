"""Learning's step kinds in automations: a quiz-score condition and issuing a certificate,
through the JSON format (names, not ids), the engine (Yes / No by the latest score), the
builder's kinds, the dry run, the lint and the run's log; ``quiz_completed`` starts a flow."""

import pytest

from apps.automations.dryrun import automation_dry_run
from apps.automations.graph import graph_load
from apps.automations.kinds import kinds_all
from apps.automations.lint import automation_lint
from apps.automations.portable import automation_export
from apps.learning.models import Certificate
from apps.learning.services.certificates import certificate_template_create
from apps.learning.services.quizzes import quiz_attempt_submit
from tests.automations.helpers import add, build, path, run_of, settle, tag, tags_of
from tests.learning.helpers import answers_for, member, module_one_check
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db

SCORE_STEP = {
    "kind": "quiz_score",
    "settings": {"quiz": "Module 1 check", "at_least": 80},
    "label": "score at least 80?",
    "yes": [add("Ready for Module 2")],
    "no": [add("Needs a review")],
}


def test_a_quiz_completed_flow_branches_on_the_latest_score_each_time():
    # given
    course = weekly_course()
    quiz = module_one_check()
    flow = build(triggers=[{"event_type": "quiz_completed"}], steps=[SCORE_STEP])
    mia = member("mia@example.com", course).subscriber

    # when: 40 %, then 100 %
    quiz_attempt_submit(subscriber=mia, quiz=quiz, answers=answers_for(quiz, 2))
    settle()
    first = path(run_of(flow, mia))
    quiz_attempt_submit(subscriber=mia, quiz=quiz, answers=answers_for(quiz, 5))
    settle()

    # then
    assert first[0] == "score at least 80? -> no"
    assert path(run_of(flow, mia))[0] == "score at least 80? -> yes"
    assert {"Needs a review", "Ready for Module 2"} <= tags_of(mia)
    step = run_of(flow, mia).steps.order_by("pk").first()
    assert "latest score 100 % ≥ 80 %" in step.detail


def test_the_kinds_travel_by_name_show_in_the_builder_dry_run_and_lint():
    # given
    course = weekly_course()
    module_one_check()
    certificate_template_create(offering=course, name="Completion", variants=[("All", None)])
    flow = build(
        triggers=[{"event_type": "quiz_completed"}],
        steps=[
            SCORE_STEP,
            {"kind": "issue_certificate", "settings": {"certificate": "Completion"}},
        ],
    )

    # when
    exported = automation_export(flow)
    graph = graph_load(flow.pk)
    dry = automation_dry_run(graph=graph, tag_ids=set(), fields={})

    # then
    steps = exported["steps"]
    assert steps[0]["settings"] == {"quiz": "Module 1 check", "at_least": 80}
    assert steps[1]["settings"] == {"certificate": "Completion"}
    assert {"quiz_score", "issue_certificate"} <= {k.key for k in kinds_all()}
    assert dry.steps[0].branch == "no" and "dry run" in dry.steps[0].note
    assert automation_lint(graph=graph, triggers=flow.triggers.all()) == []


def test_an_issue_certificate_step_issues_it_once():
    # given
    course = weekly_course()
    certificate_template_create(
        offering=course, name="Completion", variants=[("VIP", "VIP Member"), ("Standard", None)]
    )
    flow = build(
        triggers=[{"event_type": "tag_add", "tag": "Course Complete"}],
        steps=[{"kind": "issue_certificate", "settings": {"certificate": "Completion"}}],
    )
    mia = member("mia@example.com", course).subscriber
    tag(mia, "VIP Member")

    # when
    tag(mia, "Course Complete")
    settle()

    # then
    assert Certificate.objects.get(subscriber=mia).level == "VIP"
    assert run_of(flow, mia).status == "completed"


def test_the_builder_shows_the_cards_and_offers_the_kinds(admin_client):
    # given
    from django.urls import reverse

    course = weekly_course()
    module_one_check()
    certificate_template_create(offering=course, name="Completion", variants=[("All", None)])
    flow = build(
        triggers=[{"event_type": "quiz_completed"}],
        steps=[
            SCORE_STEP,
            {"kind": "issue_certificate", "settings": {"certificate": "Completion"}},
        ],
    )

    # when
    page = admin_client.get(
        reverse("admin:automations_automation_builder", kwargs={"automation_id": flow.pk})
    )

    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert "If the latest score of quiz &#x27;Module 1 check&#x27; ≥ 80 %" in html
    assert "Issue certificate &#x27;Completion&#x27;" in html
    assert "Quiz completed" in html


def test_the_builder_page_and_its_lint_read_quiz_names_once_however_many_score_steps(client):
    # given: the same flow with one and with three quiz-score steps
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    weekly_course()
    module_one_check()
    one = build(triggers=[{"event_type": "quiz_completed"}], steps=[SCORE_STEP])
    three = build(
        triggers=[{"event_type": "quiz_completed"}],
        steps=[{**SCORE_STEP, "label": f"score check {n}"} for n in range(3)],
    )
    client.force_login(User.objects.create_superuser("owner", "owner@example.com", "x"))

    def cost(flow):
        with CaptureQueriesContext(connection) as page:
            response = client.get(reverse("admin:automations_automation_builder", args=[flow.pk]))
        assert response.status_code == 200
        return len(page)

    # then: two more score steps cost no more queries (the page runs the lint too)
    assert cost(three) == cost(one)
