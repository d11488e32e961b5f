# SPDX-License-Identifier: Apache-2.0
"""Exceptions: one class per tconv_status_t, each also a subclass of the Python
built-in exception a caller would catch for it (ValueError for invalid
arguments), carrying the C library's message."""

from . import _lib


class Error(Exception):
    """Base of every tconv error. ``status`` is the C status code, ``status_name``
    its name ("invalid_arguments", ...); str(error) is the library's message."""

    status = None
    status_name = "error"

    def __init__(self, message, status=None):
        super().__init__(message)
        if status is not None:
            self.status = status


class InvalidArgumentError(Error, ValueError):
    """An argument breaks a rule; the message names the argument and the rule."""

    status = _lib.INVALID_ARGUMENTS
    status_name = "invalid_arguments"


class OutOfMemoryError(Error, MemoryError):
    """A host or device allocation failed."""

    status = _lib.OUT_OF_MEMORY
    status_name = "out_of_memory"


class UnimplementedError(Error, NotImplementedError):
    """Valid, but not supported by the device or backend."""

    status = _lib.UNIMPLEMENTED
    status_name = "unimplemented"


class DeviceError(Error, RuntimeError):
    """A device, driver or plugin failed at run time."""

    status = _lib.RUNTIME_ERROR
    status_name = "runtime_error"


class NoDeviceError(Error, RuntimeError):
    """No device matches the selector or accepts the problem (the message lists
    every candidate and its reason)."""

    status = _lib.NO_DEVICE
    status_name = "no_device"


_BY_STATUS = {cls.status: cls for cls in (InvalidArgumentError, OutOfMemoryError,
                                          UnimplementedError, DeviceError, NoDeviceError)}


def error_for_status(status, message):
    """The exception for a C status code and message."""
    cls = _BY_STATUS.get(status, Error)
    error = cls(message, status)
    if cls is Error:
        error.status_name = f"status {status}"
    return error
