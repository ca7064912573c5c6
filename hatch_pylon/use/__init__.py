"""Using a verified bundle: run it, link it at run time, sandbox it, trust it.

``runtime`` instantiates a proven graph with wasmtime, ``dynlink`` serves
composectl's ``compose:dynlink`` interfaces, ``sandbox`` applies limits,
signals and the guest's view of the host, and ``trust`` records a bundle in
composectl's trust store.

Imports: the bottom modules, ``wasm``, ``composectl`` and ``bundle``; never ``build``.
"""
