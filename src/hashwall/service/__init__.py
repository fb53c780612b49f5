"""The matching service (``hashwall serve``): banks of known hashes behind an authenticated API.

Import :func:`hashwall.service.app.create_app` to build the ASGI application.
"""
