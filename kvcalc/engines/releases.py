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
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import InputError


@dataclass(frozen=True)
class Era:
    """The rules from release `since` on (until the next row)."""

    since: str  # the first release with these rules, as users write it (0.26.0, b5331)
    changes: str  # what changed, in words
    source: str  # where it was read: PR, or file and release
    rules: dict[str, Any] = field(default_factory=dict)  # settings that differ from the era before


@dataclass(frozen=True)
class Runtime:
    """A runtime's releases: how its versions are written and compared, and its eras."""

    name: str  # the engine's CLI name
    title: str  # as people call it
    kind: str  # "release" (0.10.1.1) or "build" (b5331, llama.cpp's build number)
    checked: tuple[str, ...]  # releases whose goldens or live suite kvcalc is checked against
    eras: tuple[Era, ...]
    aliases: tuple[str, ...] = ()

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


_RELEASE = re.compile(r"^v?(\d+(?:\.\d+){0,3})(?:\.post\d+|\.dev\d+|rc\d+|\+[\w.]+)?$")
_BUILD = re.compile(r"^b?(\d{1,6})$")


def parse_version(runtime: Runtime, version: str) -> tuple[int, ...]:
    """A release 0.10, 0.10.1.1 (padded to 4 parts: 0.10 is 0.10.0.0), or a build b5331 / 5331."""
    text = str(version).strip().lower()
    if runtime.kind == "build":
        m = _BUILD.match(text)
        if not m:
            raise InputError(f"{runtime.title} version {version!r}: expected a build number such as b5331 "
                             f"(as `llama-server --version` prints it)")
        return (int(m.group(1)),)
    m = _RELEASE.match(text)
    if not m:
        raise InputError(f"{runtime.title} version {version!r}: expected a release such as {runtime.newest}")
    parts = tuple(int(p) for p in m.group(1).split("."))
    return parts + (0,) * (4 - len(parts))


def canonical(runtime: Runtime, version: str) -> str:
    """A version as kvcalc writes it: b5331 for a build, the release as given otherwise."""
    if runtime.kind == "build":
        return f"b{parse_version(runtime, version)[0]}"
    return str(version).strip().lower().lstrip("v")


@dataclass(frozen=True)
class Release:
    """What --engine NAME@VERSION resolved to."""

    runtime: Runtime
    version: str  # the release asked for (the newest checked when none was)
    rules_version: str  # the era whose rules apply
    rules: dict[str, Any]
    warning: Optional[str] = None


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
