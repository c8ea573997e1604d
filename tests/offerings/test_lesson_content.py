"""Lesson content: the allowlist, the admin's warning, video addresses, slugs."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.offerings.content import lesson_html_clean, video_embed
from apps.offerings.models import Lesson
from apps.offerings.services import lesson_add, module_add, offering_create

pytestmark = pytest.mark.django_db
VIMEO = (
    '<iframe src="https://player.vimeo.com/video/76979871" width="640" height="360" '
    'allowfullscreen title="Intro"></iframe>'
)


def _lesson_form(module, **fields):
    data = {
        "module": module.pk,
        "position": "",
        "title": "Welcome",
        "slug": "",
        "video_url": "",
        "body": "",
        "completion_tag": "",
        "attachments-TOTAL_FORMS": "0",
        "attachments-INITIAL_FORMS": "0",
        "attachments-MIN_NUM_FORMS": "0",
        "attachments-MAX_NUM_FORMS": "1000",
    }
    return data | fields


def test_a_lesson_keeps_its_vimeo_iframe_and_youtube_url_drops_the_script_and_says_so(
    admin_client,
):
    # given
    module = module_add(offering=offering_create(name="Course"), title="Start")
    body = f"<p>Watch this.</p>{VIMEO}<script>alert('x')</script>"

    # when
    response = admin_client.post(
        reverse("admin:offerings_lesson_add"),
        _lesson_form(module, body=body, video_url="https://youtu.be/dQw4w9WgXcQ"),
        follow=True,
    )

    # then
    lesson = Lesson.objects.get()
    assert 'src="https://player.vimeo.com/video/76979871"' in lesson.body
    assert "<script" not in lesson.body and "alert" not in lesson.body
    assert video_embed(lesson.video_url).src == "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"
    warnings = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    assert len(warnings) == 1 and "<script>" in warnings[0]
    assert "<script>" in response.content.decode().replace("&lt;", "<").replace("&gt;", ">")


def test_an_iframe_from_an_unknown_host_is_removed_and_its_host_named():
    result = lesson_html_clean(
        '<p onclick="steal()">Hi</p><iframe src="https://evil.example/x"></iframe>' + VIMEO
    )

    assert "evil.example" not in result.html and "player.vimeo.com" in result.html
    assert "onclick" not in result.html
    assert "<iframe>" in result.removed
    assert 'src="…" from evil.example on <iframe>' in result.removed
    assert 'onclick="…" on <p>' in result.removed


def test_video_and_audio_of_our_own_stay_and_other_hosts_lose_their_source(settings):
    settings.SITE_URL = "https://courses.example.com"
    own = '<video controls src="/offerings/c/l/files/1/"></video><audio controls src="https://courses.example.com/a.mp3"></audio>'
    result = lesson_html_clean(own + '<video src="https://other.example/v.mp4"></video>')

    assert 'src="/offerings/c/l/files/1/"' in result.html
    assert 'src="https://courses.example.com/a.mp3"' in result.html
    assert "other.example" not in result.html
    assert result.removed == ['src="…" from other.example on <video>']


@pytest.mark.parametrize(
    ("url", "provider", "src"),
    [
        (
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=3",
            "YouTube",
            "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
        ),
        (
            "https://youtube.com/shorts/dQw4w9WgXcQ",
            "YouTube",
            "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
        ),
        ("https://vimeo.com/76979871", "Vimeo", "https://player.vimeo.com/video/76979871"),
        (
            "https://vimeo.com/76979871/ab12cd34ef",
            "Vimeo",
            "https://player.vimeo.com/video/76979871?h=ab12cd34ef",
        ),
        (
            "https://acme.wistia.com/medias/e4a27b971d",
            "Wistia",
            "https://fast.wistia.net/embed/iframe/e4a27b971d",
        ),
        (
            "https://www.loom.com/share/0281766fa2d04bb788eaf19e65135184",
            "Loom",
            "https://www.loom.com/embed/0281766fa2d04bb788eaf19e65135184",
        ),
        (
            "https://iframe.mediadelivery.net/play/12345/6f1d-aa",
            "Bunny Stream",
            "https://iframe.mediadelivery.net/embed/12345/6f1d-aa",
        ),
    ],
)
def test_video_addresses_become_their_provider_s_player(url, provider, src):
    embed = video_embed(url)

    assert (embed.provider, embed.src) == (provider, src)


def test_an_unplayable_video_address_is_refused_with_a_clear_message(admin_client):
    module = module_add(offering=offering_create(name="Course"), title="Start")

    response = admin_client.post(
        reverse("admin:offerings_lesson_add"),
        _lesson_form(module, video_url="https://example.com/my-video"),
    )

    assert response.status_code == 200 and not Lesson.objects.exists()
    assert "is not a video address we can play" in response.content.decode()


def test_slugs_come_from_titles_unique_in_the_offering_and_editable(admin_client):
    # given
    offering = offering_create(name="Course")
    first, second = (module_add(offering=offering, title=t) for t in ("One", "Two"))
    lesson_add(module=first, title="Getting started")

    # when
    twin = lesson_add(module=second, title="Getting started")
    response = admin_client.post(
        reverse("admin:offerings_lesson_change", args=[twin.pk]),
        _lesson_form(second, title="Getting started", slug="getting-started"),
    )

    # then
    assert twin.slug == "getting-started-2"
    assert "Another lesson of this offering has the address" in response.content.decode()
    admin_client.post(
        reverse("admin:offerings_lesson_change", args=[twin.pk]),
        _lesson_form(second, title="Getting started", slug="start-again"),
    )
    twin.refresh_from_db()
    assert twin.slug == "start-again"
