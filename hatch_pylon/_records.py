"""``NamedTuple`` for the package's records, without ``typing``'s cost at import.

``typing.NamedTuple`` checks each field's annotation, and under ``from __future__ import annotations``
every one is a string it compiles into a ``ForwardRef``: a tenth of ``plan``'s start-up for the two dozen
record classes on its path. This ``NamedTuple`` builds the same ``collections.namedtuple`` (fields,
defaults, methods, properties, docstring) and keeps the annotations as written; type checkers see
``typing.NamedTuple`` itself. Imports nothing of hatch-pylon, and not ``typing``.
"""

from __future__ import annotations

import collections

TYPE_CHECKING = False  # importing typing would cost the start-up this module exists to save
if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    _SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})  # as typing.NamedTupleMeta skips

    class _RecordMeta(type):
        def __new__(cls, name, bases, namespace):
            if not bases:  # ``NamedTuple`` itself
                return super().__new__(cls, name, bases, namespace)
            annotations = namespace.get("__annotations__", {})
            fields = list(annotations)
            defaults = [field for field in fields if field in namespace]
            if defaults != fields[len(fields) - len(defaults) :]:
                raise TypeError(f"{name}: a field without a default follows one with a default")
            record = collections.namedtuple(
                name, fields, defaults=[namespace[f] for f in defaults], module=namespace["__module__"]
            )
            record.__annotations__ = dict(annotations)
            for key, value in namespace.items():
                if key not in _SPECIAL and key not in fields:
                    setattr(record, key, value)
            return record

    class NamedTuple(metaclass=_RecordMeta):
        """Subclass it as ``typing.NamedTuple``: the class statement makes a ``collections.namedtuple``."""
