"""Build of the optional C extension ``dedup._kernels`` (everything else is in pyproject.toml).

``optional=True``: where no C compiler is available the package installs without it, and numpy
computes the same results (see dedup/native.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("dedup._kernels", ["dedup/_kernels.c"], optional=True, extra_compile_args=["-O3", "-ffp-contract=off"]),
    ]
)
