"""Portable I/O test mode: at interpreter start, delete the Linux-only facilities hatch-pylon feature-tests.

Put this folder first on PYTHONPATH (``PYTHONPATH=tests/portable``) and every Python process started
with that environment (the build backend, ``hatch-pylon verify``/``run``) sees an ``os`` and ``fcntl``
shaped like macOS's or Windows': no ``copy_file_range`` (the plain read/write tee copies instead), no
``pread``/``pwrite``, no ``O_NOFOLLOW``/``O_NONBLOCK`` (``lstat`` plus an inode comparison refuse links and
special files instead) and no ``fcntl.flock`` (abandoned temp files are swept by age alone).
``tests/test_portable.py`` checks that the facilities are really gone and that artifacts stay
byte-identical.
"""

import os

REMOVED = ("copy_file_range", "pread", "pwrite", "preadv", "pwritev", "O_NOFOLLOW", "O_NONBLOCK")

for _name in REMOVED:
    if hasattr(os, _name):
        delattr(os, _name)

try:
    import fcntl
except ImportError:  # Windows
    pass
else:
    if hasattr(fcntl, "flock"):
        del fcntl.flock

# With HATCH_PYLON_PORTABLE_LOG set, each process appends what it saw at exit, so a test can check that
# the build backend itself (not only a probe beside it) ran without the facilities.
if os.environ.get("HATCH_PYLON_PORTABLE_LOG"):
    import atexit

    def _report() -> None:
        import json
        import sys

        try:
            import fcntl as _fcntl
        except ImportError:
            _fcntl = None
        seen = {
            "argv": sys.argv[:1],
            "modules": sorted(m for m in sys.modules if m.startswith("hatch_pylon")),
            "present": [n for n in REMOVED if hasattr(os, n)] + (["flock"] if hasattr(_fcntl, "flock") else []),
        }
        with open(os.environ["HATCH_PYLON_PORTABLE_LOG"], "a") as log:
            log.write(json.dumps(seen) + "\n")

    atexit.register(_report)
