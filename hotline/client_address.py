"""Who is on the other end: the client's address, looking through trusted reverse proxies only.

Behind a load balancer every request comes from the balancer; per-address limits (console login,
web-chat flood control) would then be one global counter. Only when the peer is one of the
configured proxies (``HOTLINE_TRUSTED_PROXIES``, addresses or networks, comma list) is
``X-Forwarded-For`` believed, read from the right, skipping trusted hops; a client cannot forge
its way past a limit by sending the header itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOPS = 20


@lru_cache(maxsize=8)
def trusted_networks(setting: str) -> tuple[Network, ...]:
    """The networks of the trusted-proxies setting; a bad entry is an error naming it."""
    networks = []
    for entry in (x.strip() for x in setting.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"HOTLINE_TRUSTED_PROXIES: not an address: {entry!r}") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(text: str, networks: tuple[Network, ...]) -> bool:
    address = _address(text)
    return address is not None and any(address in n for n in networks)


def resolve(peer: str | None, forwarded_for: Iterable[str], trusted_proxies: str = "") -> str:
    """The client's address: the peer's, or through trusted proxies the nearest untrusted hop
    of ``X-Forwarded-For`` (each header value may list several hops)."""
    peer = peer or "unknown"
    networks = trusted_networks(trusted_proxies)
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",")]
    for hop in reversed(hops[-MAX_HOPS:]):
        if not hop or _trusted(hop, networks):
            continue
        address = _address(hop)
        return str(address) if address is not None else peer
    return peer
