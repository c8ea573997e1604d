"""The address of the client behind a request: the one helper every limit and log reads.

Behind a proxy every request's socket address is the proxy's, so a limit keyed on it is one
limit for everybody (junk calls from one caller blocked the CRM's own release calls). The
proxy names the client in ``X-Forwarded-For``; anyone can send that header too, so it is read
only when the socket peer is a proxy listed in ``TRUSTED_PROXIES``, and then walked right to
left past the hops that are themselves trusted proxies: the first address that is not one is
the client. A malformed entry stops the walk at the last address known good.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# A header longer than this is someone's padding, not a proxy chain; only its tail is read.
MAX_FORWARDED_HOPS = 20


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry)


def trusted_networks() -> tuple[Network, ...]:
    return _networks(tuple(settings.TRUSTED_PROXIES))


def _parse(value: str):
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.9:51000"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address, networks) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def client_address(request) -> str | None:
    """The client's address as text (what the call logs store), or None without one."""
    peer = _parse(request.META.get("REMOTE_ADDR") or "")
    if peer is None:
        return None
    networks = trusted_networks()
    if not networks or not _trusted(peer, networks):
        return str(peer)
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop for hop in header.split(",") if hop.strip()][-MAX_FORWARDED_HOPS:]
    client = peer
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            break
        client = address
        if not _trusted(address, networks):
            break
    return str(client)
