"""The README and docs/ are tested: every `kvcalc ...` command shown with its output beneath is
run, and its output must equal the block. Widths do not matter (box drawing, bars and runs of spaces are
normalised away); figures that differ from run to run (resident memory, transient peaks) are
compared by shape. KVCALC_UPDATE_README=1 rewrites the blocks from a fresh run instead."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
PAIR = re.compile(r"```bash\n(?P<cmd>[^`]*?)\n```\n\n```\n(?P<out>.*?)```", re.S)
DRAWING = re.compile("[\u2500-\u259f\u2026]")  # box drawing, block elements (bars)
VOLATILE = [  # run-dependent figures: compared by shape, not value
    re.compile(r"(process resident memory growth) [\d,]+ [\d.]+ \w+ [\d.]+%"),
    re.compile(r"(transient peak) [\d,]+ [\d.]+ \w+"),
    re.compile(r"(peak) [\d,]+ B (against) [\d,]+ B"),
    re.compile(r"(agree to) [\d.e+-]+"),
]


def examples() -> list[tuple[Path, str, str]]:
    """(page, command, expected output) for each bash block whose last line runs kvcalc, followed by output."""
    out = []
    for page in PAGES:
        for m in PAIR.finditer(page.read_text()):
            line = m.group("cmd").strip().splitlines()[-1].split("&&")[-1].strip()
            if line.startswith("kvcalc "):
                out.append((page, line, m.group("out")))
    return out


def normalise(text: str) -> str:
    text = " ".join(DRAWING.sub(" ", text).split())
    for pattern in VOLATILE:
        text = pattern.sub(lambda m: " ".join(g for g in m.groups()) + " <varies>", text)
    return text


def run(run_cli, command: str) -> str:
    import shlex

    code, out, err = run_cli(*shlex.split(command)[1:])
    assert code == 0, err
    return out


EXAMPLES = examples()


def test_the_readme_shows_commands_with_their_output():
    assert len(EXAMPLES) >= 9
    assert any(c.startswith("kvcalc llama2-70b --seq 4096") and p == README for p, c, _ in EXAMPLES)


def test_every_page_is_linked_from_the_readme():
    text = README.read_text()
    assert all(f"docs/{p.name}" in text for p in PAGES[1:])


@pytest.mark.parametrize("page, command, expected", EXAMPLES, ids=[f"{p.stem}: {c}" for p, c, _ in EXAMPLES])
def test_readme_example(run_cli, monkeypatch, page, command, expected):
    if "--measure" in command:
        pytest.importorskip("torch")
    monkeypatch.setenv("COLUMNS", "150" if os.environ.get("KVCALC_UPDATE_README") else "250")
    got = run(run_cli, command)
    if os.environ.get("KVCALC_UPDATE_README"):
        text = page.read_text()
        page.write_text(text.replace(f"{command}\n```\n\n```\n{expected}```",
                                       f"{command}\n```\n\n```\n{''.join(l.rstrip() + chr(10) for l in got.splitlines())}```"))
        return
    assert normalise(got) == normalise(expected)
