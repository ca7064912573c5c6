"""The bad-input corpus: each case breaks one thing and names the message fragment users must see.

Every case starts from a small valid project (``root.wasm`` importing
``a:b/c@1.0.0``, provided by ``caps/p.wasm``) and changes one thing.
``test_corpus`` runs each through a real hatchling build and through the
``hatch-pylon plan`` CLI.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from helpers import COMPONENT_HEADER, hook_pyproject, leb, name, raw_component, section, write_component

BASE_HOOK = 'root = "root.wasm"\ncomponent-dirs = ["caps"]\n'
INSTANCE_DESC = b"\x05\x00"


@dataclass(frozen=True)
class Case:
    change: Callable[[Path], dict[str, str] | None]  # edits the project; may return extra environment
    fragment: str  # must appear in the output
    hook: str = BASE_HOOK
    cli: bool = True  # False where the CLI preview writes nothing, so cannot meet the problem
    unprivileged: bool = False  # run without root's power to read any file
    repaired: bool = False  # not a failure: the build fixes it and says so


def base_project(root: Path, hook: str) -> None:
    (root / "demo").mkdir(parents=True)
    (root / "demo" / "__init__.py").write_text("")
    write_component(root / "root.wasm", imports=["a:b/c@1.0.0"])
    write_component(root / "caps" / "p.wasm", exports=["a:b/c@1.0.0"])
    (root / "pyproject.toml").write_text(hook_pyproject("demo", hook))


def root_bytes(data: bytes) -> Callable[[Path], None]:
    return lambda project: (project / "root.wasm").write_bytes(data)


def imports(*entries: bytes) -> bytes:
    return section(10, leb(len(entries)) + b"".join(entries))


def _symlink_loop(project: Path) -> None:
    os.symlink("loop.wasm", project / "caps" / "loop.wasm")


def _corrupt_blob(project: Path) -> None:
    import hashlib

    data = (project / "caps" / "p.wasm").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    blob = project / ".compose" / "blobs" / digest[:2] / digest[2:]
    blob.parent.mkdir(parents=True)
    blob.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))


def _store_is_file(project: Path) -> None:
    (project / ".compose").write_text("not a folder")


def _unreadable(project: Path) -> None:
    (project / "root.wasm").chmod(0)


def _dup_dir_ids(project: Path) -> None:
    write_component(project / "caps" / "a_b.wasm", exports=["x:y/z@1.0.0"])
    write_component(project / "caps" / "a-b.wasm", exports=["x:y/w@1.0.0"])


def _cycle(project: Path) -> None:
    write_component(project / "caps" / "p.wasm", imports=["d:e/f@1.0.0"], exports=["a:b/c@1.0.0"])
    write_component(project / "caps" / "q.wasm", imports=["a:b/c@1.0.0"], exports=["d:e/f@1.0.0"])


def _many_imports(project: Path) -> None:
    write_component(project / "root.wasm", imports=["a:b/c@1.0.0", "a:b/d@1.0.0", "a:b/e@1.0.0"])


CASES: dict[str, Case] = {
    # -- the binary itself --------------------------------------------------------------------
    "empty file": Case(root_bytes(b""), "tool.hatch.build.hooks.pylon.root: root.wasm: is empty, not a WebAssembly"),
    "3-byte file": Case(root_bytes(b"\0as"), "root.wasm: is only 3 bytes, too short for a WebAssembly header"),
    "core module": Case(
        root_bytes(b"\0asm\x01\x00\x00\x00"), "root.wasm is a core WebAssembly module, not a component"
    ),
    "wrong version": Case(
        root_bytes(b"\0asm\x0e\x00\x01\x00"),
        "root.wasm: unsupported component binary version 0xe (expected 0x0d) at offset 4",
    ),
    "wrong layer": Case(root_bytes(b"\0asm\x0d\x00\x07\x00"), "root.wasm: unknown WebAssembly layer 7"),
    "truncated in a section header": Case(
        root_bytes(COMPONENT_HEADER + b"\x0a\x85"), "root.wasm: truncated inside a section header at offset 9"
    ),
    "truncated in a name": Case(
        root_bytes(raw_component(section(10, leb(1) + b"\x00" + leb(40) + b"a:b"))),
        "root.wasm: truncated: a 40-byte name runs past the end of its section",
    ),
    "truncated in a nested module": Case(
        root_bytes(COMPONENT_HEADER + b"\x01\x20\0asm\x01\x00\x00\x00"),
        "root.wasm: section 1 declares 32 bytes, past the end of the file (size 18)",
    ),
    "LEB128 over 5 bytes": Case(
        root_bytes(COMPONENT_HEADER + b"\x0a\x80\x80\x80\x80\x80\x01"),
        "root.wasm: LEB128 integer longer than 5 bytes at offset 9",
    ),
    "section size past EOF": Case(
        root_bytes(COMPONENT_HEADER + b"\x0b\x7f\x00"),
        "root.wasm: section 11 declares 127 bytes, past the end of the file",
    ),
    "import count larger than section": Case(
        root_bytes(raw_component(section(10, leb(3) + b"\x00" + name("a:b/c") + INSTANCE_DESC))),
        "root.wasm: import section declares 3 entries but ends after 1",
    ),
    "non-UTF-8 name": Case(
        root_bytes(raw_component(imports(b"\x00" + name(b"a:\xff") + INSTANCE_DESC))),
        "root.wasm: name is not valid UTF-8 at offset 13 (0xd)",
    ),
    "name encoding 0x02 with unknown attribute": Case(
        root_bytes(
            raw_component(imports(b"\x02" + name("a:b/c@1.0.0") + leb(1) + b"\x09" + name("x") + INSTANCE_DESC))
        ),
        "root.wasm: name 'a:b/c@1.0.0' has unknown name option 0x09",
    ),
    "unknown name encoding": Case(
        root_bytes(raw_component(imports(b"\x07" + name("a") + INSTANCE_DESC))), "root.wasm: unknown name encoding 0x07"
    ),
    "component over max-component-size": Case(
        lambda p: None,
        "bytes, over the limit of 40 (raise max-component-size to accept it)\n",
        hook=BASE_HOOK + "max-component-size = 40\n",
    ),
    "imports over max-imports": Case(
        _many_imports,
        "root.wasm: has more than 2 imports (raise max-imports to accept it)",
        hook=BASE_HOOK + "max-imports = 2\n",
    ),
    # -- files and paths ------------------------------------------------------------------------
    "directory named x.wasm": Case(
        lambda p: (p / "caps" / "x.wasm").mkdir(),
        "component-dirs[0]: caps/x.wasm: is a directory, not a component file",
    ),
    "symlink loop in a component dir": Case(
        _symlink_loop, "caps/loop.wasm: cannot be read (Too many levels of symbolic links)"
    ),
    "unreadable file": Case(
        _unreadable, "tool.hatch.build.hooks.pylon.root: root.wasm: permission denied", unprivileged=True
    ),
    "env var pointing to a missing file": Case(
        lambda p: {"PYLON_COMPONENT_PYTHON": str(p / "gone.wasm")}, "$PYLON_COMPONENT_PYTHON: gone.wasm: file not found"
    ),
    "unset variable without default": Case(
        lambda p: None,
        "root: environment variable $PYLON_TEST_UNSET is not set and '${PYLON_TEST_UNSET}' gives no default",
        hook='root = "${PYLON_TEST_UNSET}"\n',
    ),
    "missing component dir": Case(
        lambda p: None,
        "component-dirs[1]: directory not found: nowhere",
        hook='root = "root.wasm"\ncomponent-dirs = ["caps", "nowhere"]\n',
    ),
    # -- ids and destinations ------------------------------------------------------------------
    "duplicate ids in config": Case(
        lambda p: None,
        "components[1].id: duplicate id 'p' (already used by tool.hatch.build.hooks.pylon.components[0].id)",
        hook=BASE_HOOK + 'components = [{ id = "p", path = "caps/p.wasm" }, { id = "p", path = "root.wasm" }]\n',
    ),
    "duplicate ids in a dir": Case(_dup_dir_ids, "duplicate id 'a-b': caps/a-b.wasm and caps/a_b.wasm"),
    "id duplicating the root id": Case(
        lambda p: None,
        "components[0].id: duplicate id 'python' (already used by tool.hatch.build.hooks.pylon.root-id)",
        hook=BASE_HOOK + 'components = [{ id = "python", path = "caps/p.wasm" }]\n',
    ),
    "id with a slash": Case(
        lambda p: None,
        "components[0].id: 'a/b' is not a valid component id",
        hook=BASE_HOOK + 'components = [{ id = "a/b", path = "caps/p.wasm" }]\n',
    ),
    "id with ..": Case(
        lambda p: None,
        "components[0].id: '..' is not a valid component id",
        hook=BASE_HOOK + 'components = [{ id = "..", path = "caps/p.wasm" }]\n',
    ),
    "destination with ..": Case(
        lambda p: None, "destination: '../evil' contains '..'", hook=BASE_HOOK + 'destination = "../evil"\n'
    ),
    "absolute destination": Case(
        lambda p: None, "destination: '/etc/pylon' is absolute", hook=BASE_HOOK + 'destination = "/etc/pylon"\n'
    ),
    # -- the graph -----------------------------------------------------------------------------
    "cycle among providers": Case(_cycle, "dependency cycle: p [d:e/f@1.0.0] -> q [a:b/c@1.0.0] -> p"),
    "two providers for one import": Case(
        lambda p: write_component(p / "caps" / "q.wasm", exports=["a:b/c@1.0.0"]) and None,
        "python imports 'a:b/c@1.0.0', which 'p' (caps/p.wasm, export 'a:b/c@1.0.0') and 'q' (caps/q.wasm",
    ),
    "unresolved import": Case(
        lambda p: (p / "caps" / "p.wasm").unlink(),
        "python (root.wasm) imports instance 'a:b/c@1.0.0': no component exports it",
    ),
    # -- configuration -------------------------------------------------------------------------
    "strict determinism": Case(
        lambda p: None,
        "policy.determinism: 'strict' cannot be used with runtime linkage",
        hook=BASE_HOOK + 'linkage = "runtime"\npolicy = { determinism = "strict" }\n',
    ),
    "strict determinism, a linker guest": Case(
        lambda p: write_component(p / "root.wasm", imports=["compose:dynlink/linker@0.1.0", "a:b/c@1.0.0"]),
        "python imports compose:dynlink, so the plan links at run time, and 'strict' cannot be used with runtime",
        hook=BASE_HOOK + 'policy = { determinism = "strict" }\n',
    ),
    "unknown config key": Case(
        lambda p: None,
        "tool.hatch.build.hooks.pylon.destnation is not a known option",
        hook=BASE_HOOK + 'destnation = "x"\n',
    ),
    "wrong value types": Case(
        lambda p: None,
        "tool.hatch.build.hooks.pylon.root-id: an integer (5) is not a valid component id",
        hook='root = "root.wasm"\nroot-id = 5\ncomponent-dirs = "caps"\n',
    ),
    "non-positive limit": Case(
        lambda p: None,
        "max-imports: must be a positive integer, got an integer (0)",
        hook=BASE_HOOK + "max-imports = 0\n",
    ),
    # -- the store -----------------------------------------------------------------------------
    "store path that is a file": Case(_store_is_file, "blob store path", cli=False),
    "corrupt existing blob in the store": Case(_corrupt_blob, "was corrupt", cli=False, repaired=True),
}
