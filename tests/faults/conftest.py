"""The fault tests run a real ``hashwall serve``: they need the server extra."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")
pytest.importorskip("sqlalchemy", reason="the server extra is not installed")
pytest.importorskip("uvicorn", reason="the server extra is not installed")
if not sys.platform.startswith("linux"):
    pytest.skip("the fault tests read worker processes from /proc (Linux)", allow_module_level=True)
