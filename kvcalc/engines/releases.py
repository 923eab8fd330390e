"""Releases and eras: which rules a runtime release sizes its cache by, as data.

Each runtime has one table of eras, oldest first: the first release that has the era's rules,
what changed there, where it was read (a PR, or a file of a release), and the settings that
differ from the era before (``rules``, merged over every earlier row). An engine of release V
takes the rules of the newest era at or below V. Adding a release is one row here plus its
goldens in conformance/.

- A version newer than the newest release checked gets the newest rules and a warning naming it.
- A version older than the oldest era is refused, naming the range covered.
- No version means the newest release checked.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Optional

from ..errors import InputError

# Plain classes, not dataclasses: an engine's module builds its table at import, on every call.


class Era:
    """The rules from release `since` on (until the next row)."""

    __slots__ = ("since", "changes", "source", "rules")

    def __init__(self, since: str, changes: str, source: str, rules: Optional[dict[str, Any]] = None) -> None:
        self.since = since  # the first release with these rules, as users write it (0.26.0, b5331)
        self.changes = changes  # what changed, in words
        self.source = source  # where it was read: PR, or file and release
        self.rules = rules or {}  # settings that differ from the era before


class Runtime:
    """A runtime's releases: how its versions are written and compared, and its eras."""

    __slots__ = ("name", "title", "kind", "checked", "eras")

    def __init__(self, name: str, title: str, kind: str, checked: tuple[str, ...], eras: tuple[Era, ...]) -> None:
        self.name = name  # the engine's CLI name
        self.title = title  # as people call it
        self.kind = kind  # "release" (0.10.1.1) or "build" (b5331, llama.cpp's build number)
        self.checked = checked  # releases whose goldens or live suite kvcalc is checked against
        self.eras = eras

    @property
    def newest(self) -> str:
        """The newest release checked: what no version means."""
        return max(self.checked, key=self.key)

    @property
    def oldest(self) -> str:
        return self.eras[0].since

    def key(self, version: str) -> tuple[int, ...]:
        """A version as a sortable tuple: 0.10.1.1 -> (0, 10, 1, 1); b5331 / 5331 -> (5331,)."""
        return parse_version(self, version)

    def rules(self, version: str) -> tuple[Era, dict[str, Any]]:
        """The era in force at `version`, and every rule merged up to it."""
        at = self.key(version)
        merged: dict[str, Any] = {}
        era = self.eras[0]
        for e in self.eras:
            if self.key(e.since) > at:
                break
            merged.update(e.rules)
            era = e
        return era, merged


_RELEASE = r"^v?(\d+(?:\.\d+){0,3})(?:\.post\d+|\.dev\d+|rc\d+|\+[\w.]+)?$"
_BUILD = r"^b?(\d{1,6})$"


def parse_version(runtime: Runtime, version: str) -> tuple[int, ...]:
    """A release 0.10, 0.10.1.1 (padded to 4 parts: 0.10 is 0.10.0.0), or a build b5331 / 5331."""
    key = _parse(runtime.kind, str(version).strip().lower())
    if key is None:
        if runtime.kind == "build":
            raise InputError(f"{runtime.title} version {version!r}: expected a build number such as b5331 "
                             f"(as `llama-server --version` prints it)")
        raise InputError(f"{runtime.title} version {version!r}: expected a release such as {runtime.newest}")
    return key


@lru_cache(maxsize=None)
def _parse(kind: str, text: str) -> Optional[tuple[int, ...]]:
    m = re.match(_BUILD if kind == "build" else _RELEASE, text)  # compiled on first use, not at import
    if not m:
        return None
    if kind == "build":
        return (int(m.group(1)),)
    parts = tuple(int(p) for p in m.group(1).split("."))
    return parts + (0,) * (4 - len(parts))


def canonical(runtime: Runtime, version: str) -> str:
    """A version as kvcalc writes it: b5331 for a build, the release as given otherwise."""
    if runtime.kind == "build":
        return f"b{parse_version(runtime, version)[0]}"
    return str(version).strip().lower().lstrip("v")


class Release:
    """What --engine NAME@VERSION resolved to."""

    __slots__ = ("runtime", "version", "rules_version", "rules", "warning")

    def __init__(self, runtime: Runtime, version: str, rules_version: str, rules: dict[str, Any],
                 warning: Optional[str] = None) -> None:
        self.runtime = runtime
        self.version = version  # the release asked for (the newest checked when none was)
        self.rules_version = rules_version  # the era whose rules apply
        self.rules = rules
        self.warning = warning


def resolve(runtime: Runtime, version: Optional[str]) -> Release:
    """The rules of `version` (None: the newest release checked)."""
    asked = canonical(runtime, version) if version else runtime.newest
    at = runtime.key(asked)
    if at < runtime.key(runtime.oldest):
        raise InputError(f"{runtime.title} {asked} is older than kvcalc models: it covers {runtime.title} "
                         f"{runtime.oldest} to {runtime.newest} (`kvcalc engines` lists the eras)")
    warning = None
    if at > runtime.key(runtime.newest):
        warning = (f"kvcalc: warning: {runtime.title} {asked} is newer than the newest release kvcalc was checked "
                   f"against ({runtime.newest}); its rules are used")
    era, rules = runtime.rules(asked)
    return Release(runtime, asked, era.since, rules, warning)
