"""A bundle as it arrives: where it is read from, and the one gate that proves it.

``sources`` opens every kind of target (folder, wheel, sdist, installed
distribution) without following links out of it; ``distributions`` reads
component distributions' descriptors; ``placement`` says where a bundle sits
in a wheel; ``compose`` composes statically with wasm-tools; ``typecheck``
checks bindings' types; ``verify`` is the gate (``verify_bundle``) that every
consumer of a bundle calls.

Imports: the bottom modules, ``wasm`` and ``composectl``.
"""
