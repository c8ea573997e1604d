import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.crm.models import EmailKind, EmailMessage, EmailStatus
from apps.crm.tasks import emails_send
from apps.members.models import Operation
from apps.members.services import (
    member_login_ensure,
    member_login_link_url,
    member_set_password_url,
    operation_run,
)
from apps.offerings.models import Lesson
from apps.offerings.services import offering_grant
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"


@pytest.fixture
def member():
    subscriber = SubscriberFactory(email="mia@example.com", first_name="Mia")
    login = member_login_ensure(subscriber=subscriber, source="test")
    login.member.user.set_password(PASSWORD)
    login.member.user.save()
    return login.member


def _login(client, email="mia@example.com", password=PASSWORD):
    return client.post(
        reverse("members:login"), {"email": email, "password": password, "action": "password"}
    )


def test_logging_in_with_the_password_goes_to_the_dashboard(client, member):
    response = _login(client)
    assert response.status_code == 302
    assert response.url == reverse("members:dashboard")


def test_ten_wrong_passwords_lock_the_account_with_a_clear_message_and_the_lock_expires(
    client, member
):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(10):
            page = _login(client, password="wrong")
            assert "That email and password do not match." in page.content.decode()

        locked = _login(client)  # even the right password is refused while locked
        assert locked.status_code == 200
        assert "Too many failed attempts: logging in is locked for 15 more minute(s)" in (
            locked.content.decode()
        )

        clock.shift(timedelta(minutes=15, seconds=1))
        assert _login(client).status_code == 302


def test_a_member_without_a_password_sets_one_through_the_one_time_link(client):
    subscriber = SubscriberFactory(email="new@example.com")
    login = member_login_ensure(subscriber=subscriber, source="test")
    assert not login.member.user.has_usable_password()
    link = member_set_password_url(login.member)
    path = urlsplit(link).path

    form_page = client.get(path, follow=True)
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a brand new pass 42", "new_password2": "a brand new pass 42"},
    )
    reused = client.get(path, follow=True)

    assert done.status_code == 302
    assert "This link no longer works" in reused.content.decode()
    assert _login(client, "new@example.com", "a brand new pass 42").status_code == 302


def test_a_login_link_is_emailed_and_works_once(client, member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(reverse("members:login"), {"email": "mia@example.com", "action": "link"})
    assert "a login link is on its way" in page.content.decode()
    assert len(mail.outbox) == 1
    link = member_login_link_url(member)
    path = urlsplit(link).path

    confirm = client.get(path)
    logged_in = client.post(path)
    client.logout()
    again = client.get(path)

    assert confirm.status_code == 200
    assert logged_in.url == reverse("members:dashboard")
    assert again.status_code == 400


def test_asking_a_link_for_an_unknown_address_says_the_same_and_sends_nothing(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            reverse("members:login"), {"email": "nobody@example.com", "action": "link"}
        )
    assert "a login link is on its way" in page.content.decode()
    assert mail.outbox == []


def test_my_account_changes_the_email_only_once_the_new_address_confirms(
    client, member, django_capture_on_commit_callbacks
):
    client.force_login(member.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("members:account"),
            {"first_name": "Mira", "email": "Mira@Example.com", "action": "details"},
        )
    member.subscriber.refresh_from_db()

    assert response.status_code == 302
    assert member.subscriber.first_name == "Mira"
    assert member.subscriber.email == "mia@example.com"  # not yet
    (sent,) = mail.outbox
    assert sent.to == ["mira@example.com"]
    link = re.search(r"http\S+/account/email/\S+/", sent.body).group(0)

    client.get(urlsplit(link).path)

    member.user.refresh_from_db()
    member.subscriber.refresh_from_db()
    assert (member.user.username, member.subscriber.email) == ("mira@example.com",) * 2


def test_a_tampered_email_change_link_changes_nothing(client, member):
    response = client.get(reverse("members:email_confirm", args=["not-a-real-token"]))
    member.subscriber.refresh_from_db()
    assert response.status_code == 400
    assert member.subscriber.email == "mia@example.com"


def test_my_account_refuses_an_email_someone_else_has(client, member):
    SubscriberFactory(email="taken@example.com")
    client.force_login(member.user)

    page = client.post(
        reverse("members:account"), {"first_name": "Mia", "email": "taken@example.com"}
    )

    assert "already uses taken@example.com" in page.content.decode()


def test_pages_need_a_login_and_access(client, member):
    course = weekly_course()
    assert client.get(reverse("members:dashboard")).status_code == 302
    client.force_login(member.user)

    page = client.get(reverse("members:offering", args=[course.slug]))

    assert page.status_code == 403
    assert "Insufficient permissions" in page.content.decode()


def test_a_locked_lesson_shows_its_unlock_date_and_cannot_be_completed(client, member):
    course = weekly_course()
    offering_grant(subscriber=member.subscriber, offering=course, source="test")
    lesson = Lesson.objects.get(title="M2 lesson 1")
    client.force_login(member.user)
    url = reverse("members:lesson", args=[course.slug, lesson.slug])

    page = client.get(url).content.decode()
    post = client.post(url)

    assert "This lesson is locked." in page
    assert "Opens on" in page
    assert post.status_code == 403


def _count(client, url) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def _catalogue(n_offerings: int, member):
    courses = [
        weekly_course(f"Course {i} of {n_offerings}", modules=2 + i % 3) for i in range(n_offerings)
    ]
    for course in courses:
        operation_run(
            operation=Operation.RELEASE,
            offering=course,
            email=member.subscriber.email,
            source="test",
        )
    return courses


def test_dashboard_offering_and_lesson_pages_do_not_grow_with_the_catalogue(client, member):
    client.force_login(member.user)
    small = _catalogue(1, member)[0]
    first_lesson = Lesson.objects.filter(module__offering=small).first()
    urls_small = [
        reverse("members:dashboard"),
        reverse("members:offering", args=[small.slug]),
        reverse("members:lesson", args=[small.slug, first_lesson.slug]),
    ]
    few = [_count(client, url) for url in urls_small]

    big = _catalogue(6, member)[-1]
    big_lesson = Lesson.objects.filter(module__offering=big).first()
    urls_big = [
        reverse("members:dashboard"),
        reverse("members:offering", args=[big.slug]),
        reverse("members:lesson", args=[big.slug, big_lesson.slug]),
    ]
    many = [_count(client, url) for url in urls_big]

    assert many == few


def test_login_links_and_resets_cannot_flood_a_mailbox(client, member):
    for _ in range(8):
        page = client.post(reverse("members:login"), {"email": "mia@example.com", "action": "link"})
        assert "a login link is on its way" in page.content.decode()  # the same answer
        client.post(reverse("members:password_reset"), {"email": "mia@example.com"})
    emails_send()  # the worker's sender drains the outbox
    links = [m for m in mail.outbox if m.subject == "Your login link"]
    resets = [m for m in mail.outbox if m.subject.startswith("Choose your password")]
    assert len(links) == 5
    assert len(resets) == 5


def test_a_login_link_goes_through_the_outbox_and_shows_in_the_admin(client, admin_client, member):
    # given: a member asks for a login link on the login page
    client.post(reverse("members:login"), {"email": "mia@example.com", "action": "link"})
    queued = EmailMessage.objects.get()
    assert (queued.kind, queued.status, queued.is_marketing) == (
        EmailKind.LOGIN_LINK,
        EmailStatus.QUEUED,
        False,
    )
    assert mail.outbox == []  # nothing leaves from inside the request

    # when: the worker's sender runs
    emails_send()

    # then: sent once, with a working link; the stored copy keeps no working link
    queued.refresh_from_db()
    (sent,) = mail.outbox
    assert queued.status == EmailStatus.SENT and sent.to == ["mia@example.com"]
    link_path = urlsplit(re.search(r"http\S+/login/link/\S+/", sent.body).group(0)).path
    assert link_path not in queued.body_text and "removed once sent" in queued.body_text
    assert client.get(link_path).status_code == 200
    listing = admin_client.get(reverse("admin:crm_emailmessage_changelist")).content.decode()
    assert "Transactional: login link" in listing and "Transactional" in listing
    detail = admin_client.get(reverse("admin:crm_emailmessage_change", args=[queued.pk]))
    assert detail.status_code == 200 and "Your login link" in detail.content.decode()


def test_a_password_reset_and_an_email_change_go_through_the_outbox(client, member):
    # given
    client.post(reverse("members:password_reset"), {"email": "mia@example.com"})
    client.force_login(member.user)
    client.post(
        reverse("members:account"),
        {"first_name": "Mia", "email": "mia.new@example.com", "action": "details"},
    )

    # when
    emails_send()

    # then
    kinds = dict(EmailMessage.objects.values_list("kind", "to_email"))
    assert kinds == {
        EmailKind.PASSWORD: "mia@example.com",
        EmailKind.EMAIL_CHANGE: "mia.new@example.com",
    }
    assert set(EmailMessage.objects.values_list("status", flat=True)) == {EmailStatus.SENT}
    assert sorted(m.to[0] for m in mail.outbox) == ["mia.new@example.com", "mia@example.com"]


def test_the_login_link_confirm_page_shows_no_member_menu_before_login(client, member):
    path = urlsplit(member_login_link_url(member)).path

    page = client.get(path).content.decode()

    assert "Log in as mia@example.com" in page
    assert "My courses" not in page and "Log out" not in page
