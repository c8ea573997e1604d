"""Generated passwords (issue 16, done-when 3): a password the site draws from ``secrets`` is
stored with the fast salted hasher and upgraded to the default at the member's first login; a
password a person chooses never uses the fast hasher. The test suite hashes with MD5 for speed,
so these tests put production's hasher list back first."""

import math

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.contrib.auth.models import User
from django.urls import reverse

import config.settings as production
from apps.members.hashers import GENERATED_PASSWORD_ALGORITHM, GENERATED_PASSWORD_MIN_BITS
from apps.members.services import member_login_ensure
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

DEFAULT_ALGORITHM = "pbkdf2_sha256"


@pytest.fixture
def production_hashers(settings):
    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS
    # The test is only meaningful if production really puts the fast hasher after the default.
    assert production.PASSWORD_HASHERS[0].endswith("PBKDF2PasswordHasher")
    assert production.PASSWORD_HASHERS[-1].endswith("GeneratedPasswordHasher")


def _member_login(client, email: str, password: str):
    return client.post(reverse("members:login"), {"email": email, "password": password})


@pytest.mark.django_db
def test_a_generated_password_is_fast_hashed_logs_in_and_is_upgraded_on_that_login(
    client, production_hashers
):
    # given a purchase of an offering that opts in to the guide's generated password
    course = weekly_course(store_password=True)
    buyer = SubscriberFactory(email="ada@example.com")
    result = member_login_ensure(subscriber=buyer, offering=course, source="test")
    user = User.objects.get(pk=result.member.user_id)
    # then the password carries at least 128 bits (token_urlsafe: 6 bits a character)
    assert len(result.password) * math.log2(64) >= GENERATED_PASSWORD_MIN_BITS
    # and is stored with the fast salted hasher, not the default's million rounds
    assert identify_hasher(user.password).algorithm == GENERATED_PASSWORD_ALGORITHM
    assert result.password not in user.password
    # when the member logs in with it
    answer = _member_login(client, "ada@example.com", result.password)
    # then the login works
    assert answer.status_code == 302, answer.content.decode()[:500]
    assert client.session["_auth_user_id"] == str(user.pk)
    # and that login re-hashed it with the default hasher, which still accepts it
    user.refresh_from_db()
    assert identify_hasher(user.password).algorithm == DEFAULT_ALGORITHM
    assert user.check_password(result.password)


@pytest.mark.django_db
def test_a_chosen_password_never_uses_the_fast_hasher(client, production_hashers):
    # given a member who sets a password of their own, through the model and the page alike
    user = User.objects.create_user("mia@example.com", password="a password mia chose")
    # then it is stretched by the default hasher
    assert identify_hasher(user.password).algorithm == DEFAULT_ALGORITHM
    # and logging in with it keeps it there
    assert _member_login(client, "mia@example.com", "a password mia chose").status_code == 302
    user.refresh_from_db()
    assert identify_hasher(user.password).algorithm == DEFAULT_ALGORITHM


@pytest.mark.django_db
def test_a_new_login_without_the_opt_in_has_no_usable_password(production_hashers):
    # given an offering without the guide's recipe
    course = weekly_course(store_password=False)
    # when a buyer gets a login
    result = member_login_ensure(subscriber=SubscriberFactory(), offering=course, source="test")
    # then no password was generated and none is stored, fast or otherwise
    assert result.password is None
    assert not result.member.user.has_usable_password()
