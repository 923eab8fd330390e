"""SGLang's startup lines (placeholder; filled in below)."""

from __future__ import annotations

import re
from typing import Any, Optional

from .record import Checked, Start

CLAIMS = re.compile(r"sglang|KV Cache is allocated\. #tokens|max_total_num_tokens=")
SETTINGS = ("server_args=",)
NAMED = True
EVERY_LINE = False
HEADS = ("KV Cache is allocated", "max_total_num_tokens=")
WHOLE = re.compile(r"GB\s*$|GB\.?\s*$")
MEMORY = re.compile(r"KV Cache is allocated|max_total_num_tokens=|Load weight end")


def starts(text: str) -> Optional[tuple[str, str, str]]:
    return None


def settings_from(start: Start, text: str) -> None:
    return None


class Lines:
    def __init__(self, start: Start, model: Any) -> None:
        self.start, self.model = start, model

    def feed(self, n: int, text: str) -> list[Checked]:
        return []
