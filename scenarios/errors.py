"""Problems found in user input, each naming the file, the field path and the reason.

A `ScenarioError` carries every problem found in one document, so that a user fixes them all in one go:

    disney.yaml: resources.testers.pudong.count: must be >= 0 (got -3)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where it is and why."""

    file: str
    path: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        reason = " ".join(self.reason.split())  # always one line, whatever a parser's message looked like
        return f"{where}: {reason}"


class ScenarioError(ValueError):
    """A scenario, graph or plan document that cannot be used, with every problem found in it."""

    def __init__(self, problems: Sequence[Problem]):
        if not problems:
            raise ValueError("ScenarioError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, file: str, path: str, reason: str) -> ScenarioError:
        return cls([Problem(file, path, reason)])


_UNION_TAGS: set[str] = set()


def register_union_tags(*tags: str) -> None:
    """Tags of discriminated unions (action types, distribution families) that pydantic puts into error
    locations; they are left out of the field paths users see."""
    _UNION_TAGS.update(tags)


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+")


def key_path(path: str, key: object) -> str:
    """The path of a mapping's entry: `path.key`, or `path['odd key']` when the key is not a plain name."""
    return (f"{path}.{key}" if path else str(key)) if _PLAIN_KEY.fullmatch(str(key)) else f"{path}[{str(key)!r}]"


def dotted(loc: Iterable[Any]) -> str:
    """Render a pydantic location tuple as `a.b[2].c` (odd keys quoted: `a['my key']`). Pydantic marks an error in
    a mapping's key (not its value) with a `[key]` step after the key; the path ends at the key itself."""
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{str(part)!r}]"
    return out


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_BOUND_WORDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


def _reason(err: ErrorDetails) -> str:
    """Turn one pydantic error into a short reason that names the bad value."""
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind in _BOUND_WORDS:
        bound = next(iter(ctx.values()), "?")
        return f"must be {_BOUND_WORDS[kind]} {bound} (got {_short(value)})"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '?')} (got {_short(value)})"
    if kind == "union_tag_invalid":
        tag = str(ctx.get("discriminator", "tag")).strip("'")
        return f"unknown {tag} {ctx.get('tag')!r}; expected {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return f"needs the field {ctx.get('discriminator', '?')}"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        msg = err.get("msg", "wrong type")
        return f"{msg[0].lower()}{msg[1:]} (got {_short(value)})"
    if kind == "value_error":
        msg = str(err.get("msg", "invalid value"))
        return msg.removeprefix("Value error, ")
    if kind == "assertion_error":
        return str(err.get("msg", "invalid value")).removeprefix("Assertion failed, ")
    msg = str(err.get("msg", "invalid value"))
    return f"{msg[0].lower()}{msg[1:]}" if msg else "invalid value"


def _prefixes(locs: set[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    return {loc[:i] for loc in locs for i in range(len(loc) + 1)}


_NAMED = re.compile(r"^([a-z_]\w*(?:\[\d+\]|\.[a-z_]\w*)*): (.+)$", re.DOTALL)


def problems_from_validation(file: str, exc: ValidationError, prefix: str = "") -> list[Problem]:
    """Translate a pydantic `ValidationError` into problems with dotted field paths."""
    problems = []
    seen = set()
    errors = exc.errors(include_url=False)
    deeper = {tuple(e.get("loc", ()))[:-1] for e in errors if len(e.get("loc", ())) > 1}
    for err in errors:
        if err.get("type") == "too_short" and tuple(err.get("loc", ())) in _prefixes(deeper):
            continue  # pydantic also reports a list as too short when its only item failed: noise
        loc = [
            p
            for p in err.get("loc", ())
            if not (isinstance(p, str) and (p.startswith("function-") or p in _UNION_TAGS))
        ]
        path = dotted(loc)
        reason = _reason(err)
        named = _NAMED.match(reason)
        if named:  # a check across fields names the field it found wrong: `injects[0].target: ...`
            inner, reason = named.groups()
            path = f"{path}.{inner}" if path else inner
        if prefix:
            path = f"{prefix}.{path}" if path and not path.startswith("[") else f"{prefix}{path}"
        if (path, reason) not in seen:
            seen.add((path, reason))
            problems.append(Problem(file, path or "(document)", reason))
    return problems
