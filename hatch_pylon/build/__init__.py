"""Making a bundle at build time: configuration in, plan and blobs out.

``schema`` declares every option (and drives parsing and the README's table),
``config`` parses it (with ``expand`` for ``$VAR`` in paths and ``manifest`` for
python-wasm's ``.pylon.toml``), ``project`` reads a project's pyproject, ``components``
discovers component files and distributions, ``resolve`` binds imports to
exports, ``ingest`` stages blobs, and ``pipeline`` runs them in that order and
hands the result to the gate.

Imports: the bottom modules, ``wasm``, ``composectl`` and ``bundle``; never ``use``.
"""
