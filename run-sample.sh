#!/usr/bin/env bash
# The main job: install hatch-pylon from this checkout, build the sample's components,
# then `hatch build` the sample project and show the bundled plan.
set -euo pipefail
cd "$(dirname "$0")"

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# CI's tested versions for what the .venv lacks; what it has (wasmtime from the README's install) stays as it is.
.venv/bin/python .ci/installed_constraints.py .ci/constraints.txt >.venv/pylon-constraints.txt
.venv/bin/python -m pip install --quiet -c .venv/pylon-constraints.txt -e '.[full-test]'

# hatch builds in its own environment: offer it this checkout's plugin as a local wheel. A fresh
# hatch data dir and no uv cache keep a plugin wheel from an earlier run (same version, so uv would
# happily reuse it) from standing in for this one.
rm -rf .wheelhouse .hatch-data
.venv/bin/python -m build --wheel --no-isolation --outdir .wheelhouse . >/dev/null
export UV_FIND_LINKS="$PWD/.wheelhouse" PIP_FIND_LINKS="$PWD/.wheelhouse" HATCH_DATA_DIR="$PWD/.hatch-data"
export UV_NO_CACHE=1

.venv/bin/python sample-project/build_components.py
(cd sample-project && ../.venv/bin/hatch build)

.venv/bin/hatch-pylon plan sample-project
echo "plan inside the wheel:"
.venv/bin/python -m zipfile -l sample-project/dist/sample_pkg-0.1.0-py3-none-any.whl
