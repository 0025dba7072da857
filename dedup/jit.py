"""Whether and when the compiled kernels of :mod:`dedup.kernels` are used.

The kernels need numba, which costs about 0.6 s to load in a process: they are imported on
first use, by work large enough to gain from them (a batch of articles, not one query). Each has
a numpy counterpart in the module that calls it, with the same results bit for bit, which runs
where numba is not installed or when the environment variable ``DEDUP_NO_NUMBA`` is ``1``.
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["USE_NUMBA", "LOAD_MIN", "kernels", "warm_up"]

#: Use the compiled kernels when numba is installed. Off when ``DEDUP_NO_NUMBA=1``.
USE_NUMBA = os.environ.get("DEDUP_NO_NUMBA", "") != "1"
#: Items (characters, shingles) from which one call loads the kernels if they are not loaded:
#: signing a million shingles saves about 0.2 s, against 0.6 s to load numba once.
LOAD_MIN = 1 << 20

_module: ModuleType | None = None
_tried = False


def kernels(load: bool = True) -> ModuleType | None:
    """:mod:`dedup.kernels`, or None (numba missing, :data:`USE_NUMBA` off, or not loaded yet
    and ``load`` false: small work then uses numpy rather than pay for loading numba)."""
    global _module, _tried
    if not USE_NUMBA:
        return None
    if _module is None and load and not _tried:
        _tried = True
        try:
            from . import kernels as module

            _module = module
        except ImportError:  # numba is not installed: the numpy code gives the same results
            _module = None
    return _module


def warm_up() -> bool:
    """Load the kernels (compiling them the first time on a machine); True when they are used.

    Worker processes call it as they start, so that their first batch does not pay for it.
    """
    module = kernels()
    if module is None:
        return False
    module.warm_up()
    return True
