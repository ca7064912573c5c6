"""Shell-style variable expansion in configured paths: ``$VAR``, ``${VAR}``, ``${VAR:-default}``.

Pure: the environment is passed in. Imports nothing of hatch-pylon.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_DEFAULT_DEPTH = 16  # ${A:-${B:-...}} nested this deep at most


class TooDeep(Exception):
    """Defaults nested deeper than ``MAX_DEFAULT_DEPTH``."""


def expand_variables(
    text: str, environ: Mapping[str, str], missing: list[str], depth: int = 0, used: list[str] | None = None
) -> str:
    """``$VAR``, ``${VAR}`` and ``${VAR:-default}`` as a shell expands them, defaults nested to any depth up to
    ``MAX_DEFAULT_DEPTH`` (``TooDeep`` beyond); unset variables without a default are added to ``missing``,
    and the variables whose values were used outside any default to ``used``.
    Anything else, an unterminated ``${`` included, is kept as written."""
    if depth > MAX_DEFAULT_DEPTH:
        raise TooDeep
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "$":
            out.append(text[i])
            i += 1
            continue
        if text.startswith("${", i):
            end, level = i + 2, 1
            while end < len(text) and level:
                if text.startswith("${", end):
                    level, end = level + 1, end + 2
                    continue
                level -= text[end] == "}"
                end += 1
            inner = text[i + 2 : end - 1]
            name, colon, default = inner.partition(":-")
            if level or not _NAME.fullmatch(name) or (not colon and inner != name):
                out.append(text[i : end if not level else i + 2])  # not a variable: kept as written
                i = end if not level else i + 2
                continue
            current = environ.get(name)
            if colon and not current:  # as a shell does: unset or empty takes the default, itself expanded
                out.append(expand_variables(default, environ, missing, depth + 1, used))
            elif current is None:
                missing.append(name)
            else:
                out.append(current)
                if used is not None and depth == 0 and name not in used:
                    used.append(name)
            i = end
            continue
        match = _NAME.match(text, i + 1)
        if match is None:
            out.append("$")
            i += 1
            continue
        current = environ.get(match.group())
        if current is None:
            missing.append(match.group())
        else:
            out.append(current)
            if used is not None and depth == 0 and current and match.group() not in used:
                used.append(match.group())
        i = match.end()
    return "".join(out)
