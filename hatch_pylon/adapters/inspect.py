"""``hatch-pylon inspect``: a component's imports and exports, and their types, read from the binary."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .._errors import printable
from .._layout import DEFAULT_IGNORE_IMPORTS
from ..composectl.linkage import roles as dynlink_roles
from ..wasm.binary import Extern, inspect

if TYPE_CHECKING:
    from ..wasm.signatures import Signature

HIDDEN_BY_DEFAULT = DEFAULT_IGNORE_IMPORTS


def show(
    path: str, *, as_json: bool, types: bool, prefix: str = "", show_all: bool = False, title: str | None = None
) -> int:
    """Print a component's imports and exports (``title`` names it in place of ``path``). WASI imports (the
    host's) are left out of the text, with or without ``--types``, and counted in its header; ``--all`` lists
    them; ``--json`` lists every import, in ASCII (a name's other characters as ``\\u`` escapes, so none reaches
    the terminal raw)."""
    if as_json:
        print(json.dumps(_document(path, types, prefix), indent=2))
        return 0
    info = inspect(path)
    hidden = () if show_all else HIDDEN_BY_DEFAULT
    imports = [e for e in info.imports if e.name.startswith(prefix) and not e.name.startswith(hidden)]
    left_out = sum(1 for e in info.imports if e.name.startswith(prefix) and e.name.startswith(hidden)) if hidden else 0
    exports = [e for e in info.exports if e.name.startswith(prefix)]
    typed_imports: Mapping[str, dict[str, Signature]] = {}
    typed_exports: Mapping[str, dict[str, Signature]] = {}
    if types and info.kind == "component":
        typed_imports = _functions(path, exports=False)
        typed_exports = _functions(path, exports=True)
    roles = dynlink_roles((e.name for e in info.imports), (e.name for e in info.exports))
    print(f"{title or path}: {info.kind}")
    if roles:
        print(f"dynlink role: {', '.join(roles)}")
    for part, externs, typed in (("imports", imports, typed_imports), ("exports", exports, typed_exports)):
        total = len(getattr(info, part))
        shown = f"{len(externs)}" if len(externs) == total else f"{len(externs)} of {total}"
        if part == "imports" and left_out:
            shown += f"; {left_out} wasi: imports not listed, --all lists them"
        print(f"{part} ({shown}):")
        for extern in externs:
            print(f"  {extern.kind:<9} {printable(extern.name)}")
            for name, signature in sorted(typed.get(extern.name, {}).items()):
                shown = printable(f"{name}: {signature}" if name else str(signature))
                print(f"              {shown}")
    return 0


def _document(path: str, types: bool, prefix: str) -> dict[str, object]:
    """What ``--json`` prints for one component: every import (``--all`` or not), with a prefix only those."""
    info = inspect(path)
    typed = types and info.kind == "component"
    typed_imports = _functions(path, exports=False) if typed else {}
    typed_exports = _functions(path, exports=True) if typed else {}
    return {
        "kind": info.kind,
        "dynlink-roles": list(dynlink_roles((e.name for e in info.imports), (e.name for e in info.exports))),
        "imports": [_json_extern(e, typed_imports.get(e.name)) for e in info.imports if e.name.startswith(prefix)],
        "exports": [_json_extern(e, typed_exports.get(e.name)) for e in info.exports if e.name.startswith(prefix)],
    }


def show_provided(
    label: str,
    components: list[tuple[str, str, str]],
    *,
    as_json: bool,
    types: bool,
    prefix: str = "",
    show_all: bool = False,
) -> int:
    """A component distribution's components, each as ``show`` prints one: ``components`` is (id, its file here,
    its path in the distribution)."""
    if as_json:
        document = {cid: {"path": relative, **_document(file, types, prefix)} for cid, file, relative in components}
        print(json.dumps({"distribution": label, "components": document}, indent=2))
        return 0
    for index, (cid, file, relative) in enumerate(components):
        if index:
            print()
        show(file, as_json=False, types=types, prefix=prefix, show_all=show_all, title=f"{label}: {cid} ({relative})")
    return 0


def _functions(path: str, exports: bool) -> dict[str, dict[str, Signature]]:
    """Extern name -> function name ("" for a bare function) -> signature, decoded from the binary."""
    from ..wasm.signatures import InstanceSignatures, Signature, Undecidable, decode_file

    what = "export" if exports else "import"
    try:
        imported, exported = decode_file(path, exports=exports)
    except Undecidable as reason:
        print(f"hatch-pylon: {what} types not shown: {reason} (wasmtime would have to compile it)", file=sys.stderr)
        return {}
    result = {}
    for name, item in (exported if exports else imported).items():
        if isinstance(item, InstanceSignatures):
            result[name] = dict(item.functions)
        elif isinstance(item, Signature):
            result[name] = {"": item}
    return result


def _json_extern(extern: Extern, functions: dict[str, Signature] | None) -> dict[str, object]:
    document: dict[str, object] = {"name": extern.name, "kind": extern.kind}
    if functions is not None:
        document["functions"] = {name: str(signature) for name, signature in sorted(functions.items())}
    return document
