"""Whether the compiled kernels of :mod:`dedup.kernels` are used.

They are used wherever the extension module was built (``pip install`` builds it with the C
compiler of the machine; wheels carry it). Each has a numpy counterpart in the module that calls
it, with the same results bit for bit, which runs where the extension is missing (no compiler
at install: the build is optional) or when the environment variable ``DEDUP_NO_NATIVE`` is
``1``. Loading the kernels costs about a millisecond, once per process.
"""

from __future__ import annotations

import os
import warnings
from types import ModuleType

__all__ = ["USE_NATIVE", "kernels"]

#: Use the compiled kernels when they were built. Off when ``DEDUP_NO_NATIVE=1``.
USE_NATIVE = os.environ.get("DEDUP_NO_NATIVE", "") != "1"

_module: ModuleType | None = None
_tried = False


def kernels() -> ModuleType | None:
    """:mod:`dedup.kernels`, or None (the extension was not built, or :data:`USE_NATIVE` is off)."""
    global _module, _tried
    if not USE_NATIVE:
        return None
    if not _tried:
        _tried = True
        try:
            from . import kernels as module

            _module = module
        except (ImportError, OSError):  # not built: the numpy code gives the same results
            _module = None
        except AttributeError as exc:  # built from an older _kernels.c: a function is missing
            warnings.warn(
                f"dedup._kernels is out of date ({exc}); computing with numpy, which is slower. "
                "Reinstall the package (pip install -e . in a checkout) to rebuild it.",
                RuntimeWarning,
                stacklevel=2,
            )
            _module = None
    return _module
