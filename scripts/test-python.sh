#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Tests the Python package (python/): makes or reuses a venv with the pinned
# test requirements (python/tests/requirements.txt), installs ./python into it
# (pip builds libtconv and its plugins with CMake and bundles them), then runs
# pytest: the NumPy, PyTorch and DDP tests in one run, the Keras tests once on
# the TensorFlow backend and once on the PyTorch backend (one Keras backend
# per process). With CI=true a test that cannot run is a failure.
# Usage: scripts/test-python.sh [pytest args for every run]
# The venv is cached across runs in ~/.cache/tconv-python/venv-<hash of the
# requirements and the Python version> (or $TCONV_PYTHON_VENV), the wheels in
# pip's cache: a first run downloads ~4 GB (PyPI's torch brings CUDA libraries).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
requirements="$here/python/tests/requirements.txt"
python="${PYTHON:-python3}"

if ! command -v "$python" > /dev/null || ! "$python" -c 'import ensurepip, venv' 2> /dev/null; then
    echo "test-python: no $python with the venv module: installing python3 and python3-venv (apt)" >&2
    apt-get update -qq >&2
    apt-get install -y -qq python3 python3-venv >&2
fi

key="$(grep -v -e '^#' -e '^$' "$requirements" | cat - <("$python" -VV) | sha256sum | cut -c1-12)"
venv="${TCONV_PYTHON_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tconv-python/venv-$key}"
if [ ! -f "$venv/.tconv-complete" ]; then
    # Our cached venv without the marker is left from an interrupted install:
    # start over (a venv the caller named is used as it is).
    [ -n "${TCONV_PYTHON_VENV:-}" ] || rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet -r "$requirements"
    touch "$venv/.tconv-complete"
fi

# The package itself, built anew from this tree (scikit-build-core from the venv,
# the build directory python/build/ kept between runs).
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
"$venv/bin/python" -m pip install --quiet --no-build-isolation --force-reinstall --no-deps "$here/python"

# Run from outside python/ so `import tconv` is the installed package.
cd "$here"
status=0
run() {
    echo "== $*" >&2
    "$@" || status=1
}
unset TCONV_LIBRARY TCONV_PLUGINS TCONV_PLUGIN_PATH
run "$venv/bin/python" -m pytest -q -p no:cacheprovider "$here/python/tests" \
    --ignore="$here/python/tests/test_keras.py" "$@"
for backend in tensorflow torch; do
    run env KERAS_BACKEND="$backend" "$venv/bin/python" -m pytest -q -p no:cacheprovider \
        "$here/python/tests/test_keras.py" "$@"
done
exit "$status"
