"""composectl's own formats: the plan (``PlanV1``), its linkage, its blob store.

``plan`` is the one plan parser and writer (with composectl's digest),
``linkage`` says which dynlink roles and exec decisions a plan implies,
``store`` is the content-addressed ``.compose/blobs`` store.

Imports: the bottom modules and ``wasm``.
"""
