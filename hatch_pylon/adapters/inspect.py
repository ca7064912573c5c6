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


def show(path: str, *, as_json: bool, types: bool, prefix: str = "", show_all: bool = False) -> int:
    """The listing: WASI imports (the host's) are left out of the text, with or without ``--types``, and
    counted in its header; ``--all`` lists them; ``--json`` lists every import."""
    info = inspect(path)
    hidden = () if show_all or as_json else HIDDEN_BY_DEFAULT
    imports = [e for e in info.imports if e.name.startswith(prefix) and not e.name.startswith(hidden)]
    left_out = sum(1 for e in info.imports if e.name.startswith(prefix) and e.name.startswith(hidden)) if hidden else 0
    exports = [e for e in info.exports if e.name.startswith(prefix)]
    typed_imports: Mapping[str, dict[str, Signature]] = {}
    typed_exports: Mapping[str, dict[str, Signature]] = {}
    if types and info.kind == "component":
        typed_imports = _functions(path, exports=False)
        typed_exports = _functions(path, exports=True)
    roles = dynlink_roles((e.name for e in info.imports), (e.name for e in info.exports))
    if as_json:
        document = {
            "kind": info.kind,
            "dynlink-roles": list(roles),
            "imports": [_json_extern(e, typed_imports.get(e.name)) for e in imports],
            "exports": [_json_extern(e, typed_exports.get(e.name)) for e in exports],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    print(f"{path}: {info.kind}")
    if roles:
        print(f"dynlink role: {', '.join(roles)}")
    for title, externs, typed in (("imports", imports, typed_imports), ("exports", exports, typed_exports)):
        total = len(getattr(info, title))
        shown = f"{len(externs)}" if len(externs) == total else f"{len(externs)} of {total}"
        if title == "imports" and left_out:
            shown += f"; {left_out} wasi: imports not listed, --all lists them"
        print(f"{title} ({shown}):")
        for extern in externs:
            print(f"  {extern.kind:<9} {printable(extern.name)}")
            for name, signature in sorted(typed.get(extern.name, {}).items()):
                shown = printable(f"{name}: {signature}" if name else str(signature))
                print(f"              {shown}")
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
