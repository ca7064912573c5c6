"""The entry points on top: the Hatch and setuptools hooks, the CLI and its commands.

``hatch`` and ``setuptools`` adapt the build pipeline to each backend;
``cli`` is ``hatch-pylon`` (with ``new`` and ``inspect`` as its larger
commands). Nothing below imports from here.

Imports: anything below.
"""
