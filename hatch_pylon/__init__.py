"""hatch-pylon: bundle a WebAssembly component graph and its composectl plan into Python packages."""

__version__ = "0.1.0"
