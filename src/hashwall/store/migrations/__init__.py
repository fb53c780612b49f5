"""Alembic migrations (a package so they ship in wheels; alembic reads them by path)."""
