"""Headers and deploy checks: the Content-Security-Policy, and `check --deploy` clean with
the production environment README documents (the same command CI runs)."""

import re
import subprocess
import sys

import pytest

from tests.processes import ROOT

README_ENV = (
    "eval \"$(sed -n '/<!-- production-env -->/,/<!-- \\/production-env -->/p' README.md "
    "| grep '^export ')\""
)


def _policy(response) -> dict[str, list[str]]:
    return {
        part.split()[0]: part.split()[1:]
        for part in response["Content-Security-Policy"].split(";")
        if part.strip()
    }


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_pages_carry_a_policy_that_allows_no_inline_script(client, path):
    policy = _policy(client.get(path))
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]


@pytest.mark.django_db
def test_the_policy_frames_the_video_hosts_lessons_may_embed_and_no_other(client, settings):
    policy = _policy(client.get("/login/"))
    for host in settings.LESSON_IFRAME_HOSTS:
        assert f"https://{host}" in policy["frame-src"]
    assert all(
        source == "'self'" or source.removeprefix("https://") in settings.LESSON_IFRAME_HOSTS
        for source in policy["frame-src"]
    )


@pytest.mark.django_db
def test_the_api_docs_page_fetches_nothing_from_elsewhere(admin_client):
    # drf-spectacular's page linked Google's fonts, which the policy refuses (an error in
    # the console); the project's copy of the template does not.
    response = admin_client.get("/api/docs/")
    assert response.status_code == 200
    assert "Content-Security-Policy" in response
    assert not re.search(r"(href|src)=\"https?://", response.content.decode())


def test_no_template_has_an_inline_script_or_event_handler():
    offenders = []
    for template in [*ROOT.glob("templates/**/*.html"), *ROOT.glob("apps/*/templates/**/*.html")]:
        text = template.read_text()
        inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*\bnonce=)[^>]*>", text)
        handlers = re.findall(r"\son[a-z]+\s*=", text)
        if inline or handlers:
            offenders.append(f"{template.relative_to(ROOT)}: {inline + handlers}")
    assert not offenders


def _check_deploy(extra: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            "bash",
            "-c",
            f"{README_ENV}; {extra} {sys.executable} manage.py check --deploy --fail-level WARNING",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )


def test_check_deploy_prints_no_warning_with_the_documented_production_environment():
    result = _check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_still_warns_when_the_environment_leaves_hsts_off():
    result = _check_deploy("SECURE_HSTS_SECONDS=0")
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout
