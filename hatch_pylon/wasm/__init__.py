"""The WebAssembly component binary: what a component is, without running it.

The binary reader (``binary``), component-model extern names and their semver
tracks (``names``), function signatures decoded from the type sections
(``signatures``), wasmtime's reflection where decoding cannot decide
(``reflect``), and the wasmtime compiler with its on-disk cache by digest
(``compiler``, ``cache``).

Imports: the bottom modules (``_errors``, ``_fs``, ``_layout``) only.
"""
