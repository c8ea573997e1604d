"""One lock for every password login, members' and the admin's: the admin login locks after
N wrong passwords with a message and the lock expires; 30 wrong passwords at once get exactly
N tries (L2); a right password does not spend an attempt; login links live 15 minutes (L6)."""

import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.members import logins
from apps.members.logins import (
    LOGIN_ADDRESS_MAX_FAILURES,
    LOGIN_LOCK,
    LOGIN_MAX_FAILURES,
    LoginLocked,
)
from apps.members.models import LoginThrottle
from apps.members.services import member_login_ensure, member_login_link_url
from apps.members.tokens import LOGIN_LINK_MAX_AGE
from tests.factories import SubscriberFactory

ADMIN_LOGIN = reverse("admin:login")
PASSWORD = "staff-password-long-enough"


@pytest.fixture
def staff(db):
    return User.objects.create_user("creator", password=PASSWORD, is_staff=True)


def _admin_login(client, password=PASSWORD, username="creator"):
    return client.post(ADMIN_LOGIN, {"username": username, "password": password, "next": "/admin/"})


@pytest.mark.django_db
def test_the_admin_login_locks_after_n_wrong_passwords_and_the_lock_expires(client, staff):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        # given N wrong passwords, each told so
        for _ in range(LOGIN_MAX_FAILURES):
            page = _admin_login(client, password="wrong")
            assert "Please enter the correct username and password" in page.content.decode()
        # when the right one comes next
        locked = _admin_login(client)
        # then it is refused too, with a message that says for how long
        assert locked.status_code == 200
        minutes = int(LOGIN_LOCK.total_seconds() // 60)
        assert (
            f"Too many failed attempts: logging in is locked for {minutes} more minute(s)"
            in locked.content.decode()
        )
        # and once the lock has passed, the right password logs in
        clock.shift(LOGIN_LOCK + timedelta(seconds=1))
        assert _admin_login(client).status_code == 302


@pytest.mark.django_db
def test_a_member_and_the_admin_share_one_lock_per_account(client, staff):
    # given a staff account locked through the admin
    for _ in range(LOGIN_MAX_FAILURES):
        _admin_login(client, password="wrong")
    # then the same account is locked whichever door is tried (one mechanism, one counter)
    with pytest.raises(LoginLocked):
        logins.login_attempt_begin(username="CREATOR", address=None)


@pytest.mark.django_db
def test_a_right_password_does_not_spend_an_attempt(client, staff):
    # given one short of the limit
    for _ in range(LOGIN_MAX_FAILURES - 1):
        _admin_login(client, password="wrong")
    # when the right password comes
    assert _admin_login(client).status_code == 302
    client.logout()
    # then the account starts afresh, and the address got that attempt back
    assert not LoginThrottle.objects.filter(key="account:creator").exists()
    address = LoginThrottle.objects.get(key="address:127.0.0.1")
    assert address.failures == LOGIN_MAX_FAILURES - 1 and address.locked_until is None


@pytest.mark.django_db
def test_an_address_is_locked_after_its_own_limit_across_accounts(client, staff):
    for n in range(LOGIN_ADDRESS_MAX_FAILURES):
        _admin_login(client, username=f"guess-{n}", password="wrong")
    page = _admin_login(client).content.decode()
    assert "Too many failed attempts" in page


@pytest.mark.django_db(transaction=True)
def test_thirty_wrong_passwords_at_once_get_exactly_the_limit_of_tries(staff, monkeypatch):
    # given a count of real password checks
    checks, guard = [], threading.Lock()
    real = logins.authenticate

    def counting(request, **credentials):
        with guard:
            checks.append(credentials["username"])
        return real(request, **credentials)

    monkeypatch.setattr(logins, "authenticate", counting)
    barrier = threading.Barrier(30)
    outcomes: list[str] = []

    def attempt(n: int):
        try:
            barrier.wait()
            try:
                user = logins.login_authenticate(
                    request=None, username="creator", password="wrong", address=f"10.0.0.{n}"
                )
                outcome = "wrong" if user is None else "in"
            except LoginLocked:
                outcome = "locked"
            with guard:
                outcomes.append(outcome)
        finally:
            connection.close()

    # when thirty wrong passwords arrive at once, from thirty addresses
    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # then exactly the limit were checked, and the rest were refused unchecked
    assert len(outcomes) == 30
    assert len(checks) == LOGIN_MAX_FAILURES
    assert outcomes.count("wrong") == LOGIN_MAX_FAILURES
    assert outcomes.count("locked") == 30 - LOGIN_MAX_FAILURES


@pytest.mark.django_db
def test_a_login_link_works_for_15_minutes_only(client):
    subscriber = SubscriberFactory(email="mia@example.com")
    member = member_login_ensure(subscriber=subscriber, source="test").member
    with time_machine.travel(timezone.now(), tick=False) as clock:
        path = urlsplit(member_login_link_url(member)).path
        # within the limit the link opens its confirmation page
        clock.shift(LOGIN_LINK_MAX_AGE - timedelta(seconds=5))
        assert client.get(path).status_code == 200
        # past it, the link is refused
        clock.shift(timedelta(seconds=10))
        expired = client.get(path)
        assert expired.status_code == 400
        assert client.post(path).status_code == 400
