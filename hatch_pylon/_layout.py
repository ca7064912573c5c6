"""Where things live in a bundle, a blob store and an sdist: names only, no I/O.

A *bundle* is a folder holding composectl's ``plan.json`` next to a
``.compose`` store (``blobs/<hex[0:2]>/<hex[2:]>``), plus hatch-pylon's own
``pylon.json`` (what ``verify`` and ``run`` need to judge the bundle as the
build did) and, when composed, ``<root-id>.composed.wasm``.
"""

from __future__ import annotations

PLAN_FILE = "plan.json"
STORE_DIR = ".compose"  # composectl's default store, next to plan.json
BLOBS_DIR = "blobs"
META_FILE = "pylon.json"  # hatch-pylon's record of how the bundle was judged (not part of the plan)
SDIST_BUNDLE_DIR = ".pylon-bundle"  # where an sdist carries the bundle
INDEX_FILE = ".pylon-index.json"  # the store's stat index: never packaged
TEMP_PREFIX = ".tmp-"  # every temporary file hatch-pylon writes starts with this
COMPOSED_SUFFIX = ".composed.wasm"

# Defaults the build records and every reader of a bundle falls back to.
WASI_PREFIX = "wasi:"  # the interfaces a WASI host provides
DEFAULT_IGNORE_IMPORTS = (WASI_PREFIX,)  # import prefixes left to the host (ignore-imports)
DEFAULT_MAX_COMPONENT_SIZE = 2 << 30  # bytes per component file (max-component-size)


def blob_relpath(digest: str) -> str:
    """The blob's path below the store root, POSIX-style."""
    return f"{BLOBS_DIR}/{digest[:2]}/{digest[2:]}"


def composed_name(root_id: str) -> str:
    return f"{root_id}{COMPOSED_SUFFIX}"


def is_digest(text: str) -> bool:
    """Lower-case hex SHA-256, as blob names and plan digests spell it."""
    return len(text) == 64 and set(text) <= frozenset("0123456789abcdef")
