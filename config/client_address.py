"""The address of the client behind a request: the one helper every limit and log reads.

Today the socket peer's address. Issue 14's trusted-proxy work (``TRUSTED_PROXIES``) reads
``X-Forwarded-For`` here, through trusted proxies only; callers do not change.
"""


def client_address(request) -> str | None:
    """The client's address as text (what the call logs store), or None without one."""
    return request.META.get("REMOTE_ADDR") or None
