# SPDX-License-Identifier: Apache-2.0
"""Shared test helpers. A test that cannot run (a framework missing) is a
visible skip, and under CI=true a failure: CI must run everything."""

import importlib
import os
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))  # reference.py


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def cannot_run(reason):
    """Skip, or fail under CI=true."""
    if in_ci():
        pytest.fail(f"{reason} (a test that cannot run is a failure under CI=true)", pytrace=False)
    pytest.skip(reason)


def require(module_name):
    """The imported module, or skip / fail (CI) when it is not installed."""
    try:
        return importlib.import_module(module_name)
    except ImportError as e:
        cannot_run(f"{module_name} is not installed: {e}")
