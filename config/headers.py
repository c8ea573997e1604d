"""The Content-Security-Policy for config/settings.py (django-csp).

Scripts only from this site's own files, never inline (the builder's htmx, the import progress
and the generator's copy button are static files); no plugins, no framing by other sites.
Styles allow inline style attributes: admin pages and htmx's loading indicator set them, and
CSS cannot run script. Lesson pages (and the editor) may frame exactly the video hosts the
lesson cleaner keeps, and play <video>/<audio> from the allowed media hosts.
"""

from collections.abc import Iterable

from csp.constants import NONCE


def content_security_policy(*, iframe_hosts: Iterable[str], media_hosts: Iterable[str]) -> dict:
    return {
        "DIRECTIVES": {
            "default-src": ["'self'"],
            # NONCE: a page may mark its one inline script (the API docs' start-up).
            "script-src": ["'self'", NONCE],
            "style-src": ["'self'", "'unsafe-inline'"],
            "img-src": ["'self'", "data:"],
            "font-src": ["'self'", "data:"],
            "connect-src": ["'self'"],
            "frame-src": ["'self'", *(f"https://{h}" for h in iframe_hosts)],
            "worker-src": ["'self'", "blob:"],
            "object-src": ["'none'"],
            "base-uri": ["'self'"],
            "form-action": ["'self'"],
            "frame-ancestors": ["'none'"],
            "media-src": ["'self'", *(f"https://{h}" for h in media_hosts)],
        },
    }
