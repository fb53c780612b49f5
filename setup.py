"""Build the optional C kernels of hashwall.index; all metadata lives in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "hashwall.index._mih",
            sources=["src/hashwall/index/_mih.c"],
            extra_compile_args=["-O3", "-std=c11"],
            optional=True,
        )
    ]
)
