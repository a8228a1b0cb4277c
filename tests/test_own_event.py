"""The walk-through docs/own-event.md, run as written: every `yiwang` command in it, in order, in a fresh folder
holding only the files it tells the reader to save; each exits as the page says (0 unless `# exit N`), and the
commands of a block print every line the page shows after that block."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from command.cli import main

PAGE = Path(__file__).resolve().parents[1] / "docs" / "own-event.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[str, str]]:
    """The page's fenced blocks, as (language, text), in order."""
    return BLOCK.findall(PAGE.read_text(encoding="utf-8"))


def test_the_page_builds_a_crowd_and_a_mass_testing_scenario_at_new_places():
    """The page saves two scenarios, a crowd one and a mass-testing one, both on the OpenStreetMap extract, and
    runs each."""
    saved = {text.splitlines()[0].removeprefix("# file: "): text for lang, text in blocks() if lang == "yaml"}
    assert sorted(saved) == ["block_testing.yaml", "theatre_exit.yaml"]
    assert "kind: crowd" in saved["theatre_exit.yaml"] and "kind: mass_testing" in saved["block_testing.yaml"]
    assert all("graph: huangpu_central" in text for text in saved.values())
    commands = [line for lang, text in blocks() if lang == "sh" for line in text.splitlines()]
    assert "yiwang run theatre_exit.yaml" in commands and "yiwang run block_testing.yaml" in commands


def test_every_command_on_the_page_does_what_the_page_says(tmp_path, monkeypatch, capsys):
    """Each command exits as the page says, and each block's commands print the lines the page shows after it."""
    monkeypatch.chdir(tmp_path)
    last_output: list[str] | None = None
    ran = 0
    for lang, text in blocks():
        if lang == "yaml":
            first, _, _ = text.partition("\n")
            assert first.startswith("# file: "), f"a YAML block the reader is not told to save: {first!r}"
            (tmp_path / first.removeprefix("# file: ")).write_text(text, encoding="utf-8")
        elif lang == "sh":
            last_output = []
            for line in filter(None, (raw.strip() for raw in text.splitlines())):
                command, _, comment = line.partition(" # ")
                expected = int(comment.removeprefix("exit ")) if comment else 0
                args = shlex.split(command)
                assert args[0] == "yiwang", line
                code = main(args[1:])
                out, err = capsys.readouterr()
                assert code == expected, (line, out[-2000:], err[-2000:])
                last_output += (out + err).splitlines()
                ran += 1
        elif lang == "text":
            assert last_output is not None, "output shown before any command"
            for shown in filter(None, text.splitlines()):
                assert shown in last_output, (shown, last_output[:40])
    assert ran >= 10
    assert (tmp_path / "huangpu.html").is_file() and (tmp_path / "blocks.geojson").is_file()


@pytest.mark.parametrize("name", ["theatre_exit.yaml", "block_testing.yaml"])
def test_the_saved_scenarios_carry_their_sources(name):
    """Each scenario the page saves names where its figures come from, the OpenStreetMap attribution among them or
    its numbers said to be a planner's."""
    text = next(t for lang, t in blocks() if lang == "yaml" and t.startswith(f"# file: {name}"))
    page = PAGE.read_text(encoding="utf-8")
    assert "© OpenStreetMap contributors" in text or "The numbers are a planner's, not a record's" in page
