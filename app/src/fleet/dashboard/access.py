"""Who is looking: the user and groups the authenticating proxy in front of the dashboard
(nginx, role fleet_proxy) sends in request headers, and what they may do.

The dashboard listens on loopback only, behind the proxy: the headers cannot come from
anyone else. Without FLEET_AUTH_USER_HEADER (a dashboard run by hand on a workstation) there is
no proxy and no restriction; with it, a request without the header is nobody and may do nothing
beyond reading the pages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_GROUP_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Viewer:
    name: str | None  # None: unknown (no proxy configured, or no header)
    groups: frozenset[str]
    authenticated: bool  # the proxy vouched for this user


def parse_groups(text: str) -> frozenset[str]:
    """``console,admin`` -> {"console", "admin"}; invalid names are dropped."""
    return frozenset(g for g in (p.strip() for p in text.split(",")) if _GROUP_RE.match(g))


def viewer_from_headers(
    headers: Mapping[str, str], user_header: str | None, groups_header: str | None
) -> Viewer:
    if not user_header:
        return Viewer(None, frozenset(), authenticated=False)
    lowered = {k.lower(): v for k, v in headers.items()}
    name = (lowered.get(user_header.lower()) or "").strip() or None
    groups = parse_groups(lowered.get(groups_header.lower(), "")) if groups_header else frozenset()
    return Viewer(name, groups if name else frozenset(), authenticated=name is not None)


def allowed(viewer: Viewer, groups: frozenset[str] | None, proxied: bool) -> bool:
    """Whether ``viewer`` may use a feature reserved to ``groups``. No proxy configured: yes
    (nothing to check against). A proxy and no group list: any authenticated user."""
    if not proxied:
        return True
    if not viewer.authenticated:
        return False
    return groups is None or bool(viewer.groups & groups)
