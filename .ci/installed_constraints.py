"""Print the lines of a constraints file that do not name a distribution installed in this interpreter.

run-sample.sh installs into the developer's ``.venv`` with these: what the ``.venv`` lacks comes at the
versions CI was green with, and what it already has (wasmtime from ``pip install -e '.[run]'``, say) stays
at its version, where the whole file would move it (up or down) to the pinned one.
Usage: python .ci/installed_constraints.py CONSTRAINTS > FILTERED
"""

from __future__ import annotations

import re
import sys
from importlib import metadata


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(path: str) -> int:
    installed = {canonical(d.metadata["Name"] or "") for d in metadata.distributions()}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            text = line.strip()
            name = re.split(r"[\s;=<>!~\[]", text, maxsplit=1)[0]
            if text and not text.startswith("#") and canonical(name) not in installed:
                print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
