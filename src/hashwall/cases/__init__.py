"""Removal requests, deadlines, the tamper-evident audit chain and outgoing notices.

Two sides of the same job: a platform receiving removal requests within a legal deadline, and a
survivor sending notices to the sites that host their images. Everything here needs the
``cases`` extra (pydantic, fpdf2, PyYAML); the database audit backend also needs the ``server``
extra (SQLAlchemy). Nothing on the ``hashwall hash`` path imports this package.
"""
