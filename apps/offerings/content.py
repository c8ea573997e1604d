"""Lesson content: the HTML allowlist, the report of what cleaning removed, and video URLs
turned into embeds. Pure functions: no database, no network (an embed is computed from the
URL's shape, never fetched from the provider's oEmbed endpoint at render time)."""

import re
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import nh3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MEDIA_TAGS = {"iframe", "video", "audio", "source", "track"}
EXTRA_TAGS = MEDIA_TAGS | {"figure", "figcaption", "img", "s", "u", "hr", "h2", "h3", "h4"}
IFRAME_ATTRIBUTES = {
    "src",
    "width",
    "height",
    "title",
    "allow",
    "allowfullscreen",
    "loading",
    "referrerpolicy",
    "frameborder",
}
MEDIA_ATTRIBUTES = {
    "video": {"src", "controls", "width", "height", "poster", "preload", "playsinline", "muted"},
    "audio": {"src", "controls", "preload"},
    "source": {"src", "type"},
    "track": {"src", "kind", "srclang", "label", "default"},
    "img": {"src", "alt", "width", "height", "loading"},
    "a": {"href", "title", "target"},
}
# Attributes whose value is a URL that must come from an allowed host.
URL_ATTRIBUTES = {"src", "poster"}
EMPTY_IFRAME = re.compile(r"<iframe(?![^>]*\ssrc=)[^>]*>\s*</iframe>")


def _attributes() -> dict[str, set[str]]:
    allowed = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
    for tag, attrs in MEDIA_ATTRIBUTES.items():
        allowed.setdefault(tag, set()).update(attrs)
    allowed["iframe"] = set(IFRAME_ATTRIBUTES)
    return allowed


def embed_allowlist(config, nh3_config) -> None:
    """django-prose-editor's hook for our Embed extension: its tags and attributes."""
    nh3_config["tags"] |= MEDIA_TAGS
    for tag in MEDIA_TAGS:
        nh3_config["attributes"].setdefault(tag, set()).update(
            IFRAME_ATTRIBUTES if tag == "iframe" else MEDIA_ATTRIBUTES.get(tag, {"src"})
        )


def _host(url: str) -> str:
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return "?"


def _url_allowed(tag: str, url: str) -> bool:
    url = url.strip()
    if tag == "iframe":
        return url.startswith("https://") and _host(url) in {
            h.lower() for h in settings.LESSON_IFRAME_HOSTS
        }
    if url.startswith("/") and not url.startswith("//"):
        return True  # this site's own files
    site = _host(settings.SITE_URL)
    return _host(url) in {site, *(h.lower() for h in settings.LESSON_MEDIA_HOSTS)}


class _Inventory(HTMLParser):
    """Counts tags and (tag, attribute) pairs, noting the hosts of media URLs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: Counter = Counter()
        self.attributes: Counter = Counter()

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        for name, value in attrs:
            key = (tag, name)
            if name in URL_ATTRIBUTES and tag in MEDIA_TAGS | {"img"}:
                key = (tag, name, _host(value or ""))
            self.attributes[key] += 1

    handle_startendtag = handle_starttag


def _inventory(html: str) -> _Inventory:
    parser = _Inventory()
    parser.feed(html)
    parser.close()
    return parser


@dataclass
class CleanResult:
    html: str
    removed: list[str]


def lesson_html_clean(body: str) -> CleanResult:
    """Clean a lesson's HTML with the explicit allowlist and say what was removed, so a
    creator whose embed vanished learns why (nh3 alone removes things silently)."""
    body = body or ""

    def keep_url(tag: str, attribute: str, value: str) -> str | None:
        if attribute in URL_ATTRIBUTES and tag in MEDIA_TAGS | {"img"}:
            return value if tag == "img" or _url_allowed(tag, value) else None
        return value

    cleaned = nh3.clean(
        body,
        tags=set(nh3.ALLOWED_TAGS) | EXTRA_TAGS,
        attributes=_attributes(),
        attribute_filter=keep_url,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    # An iframe whose source was refused is an empty box: drop it whole.
    cleaned = EMPTY_IFRAME.sub("", cleaned)
    before, after = _inventory(body), _inventory(cleaned)
    removed = []
    for tag, count in sorted((before.tags - after.tags).items()):
        removed.append(f"<{tag}>" + (f" ×{count}" if count > 1 else ""))
    for key, count in sorted((before.attributes - after.attributes).items()):
        tag, name = key[0], key[1]
        if before.tags[tag] > after.tags[tag] and not (tag == "iframe" and name == "src"):
            continue  # the element itself went: naming its attributes would only repeat it
        where = f" from {key[2]}" if len(key) == 3 and key[2] else ""
        removed.append(f'{name}="…"{where} on <{tag}>' + (f" ×{count}" if count > 1 else ""))
    return CleanResult(cleaned, removed)


# Video URLs --------------------------------------------------------------------------------

YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{6,20}$")
SIMPLE_ID = re.compile(r"^[A-Za-z0-9_-]{4,64}$")


@dataclass
class Embed:
    provider: str
    src: str
    kind: str = "iframe"  # or "video" / "audio" for our own files


YOUTUBE_EMBED = "https://www.youtube-nocookie.com/embed/{}"
FILE_SUFFIXES = {"mp4", "webm", "mov", "mp3", "m4a", "ogg", "wav"}
AUDIO_SUFFIXES = {"mp3", "m4a", "ogg", "wav"}


def _youtube(host: str, path: list[str], query: dict) -> Embed | None:
    if host not in {"youtube.com", "youtube-nocookie.com"}:
        return None
    video = query.get("v", [""])[0]
    if path[:1] in (["embed"], ["shorts"], ["live"]) and len(path) > 1:
        video = path[1]
    if YOUTUBE_ID.match(video or ""):
        return Embed("YouTube", YOUTUBE_EMBED.format(video))
    return None


def _youtu_be(host: str, path: list[str], query: dict) -> Embed | None:
    if host == "youtu.be" and path and YOUTUBE_ID.match(path[0]):
        return Embed("YouTube", YOUTUBE_EMBED.format(path[0]))
    return None


def _vimeo(host: str, path: list[str], query: dict) -> Embed | None:
    numbers = [p for p in path if p.isdigit()] if host in {"vimeo.com", "player.vimeo.com"} else []
    if not numbers:
        return None
    # An unlisted video's address carries its hash after the id: keep it.
    rest = path[path.index(numbers[0]) + 1 :]
    suffix = f"?h={rest[0]}" if rest and SIMPLE_ID.match(rest[0]) else ""
    return Embed("Vimeo", f"https://player.vimeo.com/video/{numbers[0]}{suffix}")


def _wistia(host: str, path: list[str], query: dict) -> Embed | None:
    if not host.endswith(("wistia.com", "wistia.net")) or len(path) < 2:
        return None
    if path[-2] in {"medias", "iframe"} and SIMPLE_ID.match(path[-1]):
        return Embed("Wistia", f"https://fast.wistia.net/embed/iframe/{path[-1]}")
    return None


def _loom(host: str, path: list[str], query: dict) -> Embed | None:
    if host != "loom.com" or len(path) < 2 or path[0] not in {"share", "embed"}:
        return None
    if SIMPLE_ID.match(path[1]):
        return Embed("Loom", f"https://www.loom.com/embed/{path[1]}")
    return None


def _bunny(host: str, path: list[str], query: dict) -> Embed | None:
    if (
        host in {"iframe.mediadelivery.net", "player.mediadelivery.net"}
        and len(path) >= 3
        and path[0] in {"play", "embed"}
        and path[1].isdigit()
        and SIMPLE_ID.match(path[2])
    ):
        library, video = path[1], path[2]
        return Embed("Bunny Stream", f"https://iframe.mediadelivery.net/embed/{library}/{video}")
    return None


# The hosted players, each given (host, path segments, query): the first that knows the
# address makes the player. Hosts do not overlap, so the order only reads well.
VIDEO_PROVIDERS = (_youtube, _youtu_be, _vimeo, _wistia, _loom, _bunny)


def _own_file(url: str, path: str) -> Embed | None:
    suffix = path.lower().rsplit(".", 1)[-1]
    if suffix in FILE_SUFFIXES and _url_allowed("video", url):
        return Embed("file", url, "audio" if suffix in AUDIO_SUFFIXES else "video")
    return None


def video_embed(url: str) -> Embed | None:
    """The player for a video address: YouTube, Vimeo, Wistia, Loom, Bunny Stream, or a
    video/audio file of our own. None when the address is none of those."""
    url = (url or "").strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    path = [p for p in parts.path.split("/") if p]
    query = parse_qs(parts.query)
    for provider in VIDEO_PROVIDERS:
        embed = provider(host, path, query)
        if embed is not None:
            return embed
    return _own_file(url, parts.path)


def video_url_check(url: str) -> None:
    if url and video_embed(url) is None:
        raise ValidationError(
            _(
                "%(url)s is not a video address we can play: use a YouTube, Vimeo, Wistia, "
                "Loom or Bunny Stream link, or a video file on this site."
            ),
            params={"url": url},
        )
