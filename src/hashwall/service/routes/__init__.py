"""The v1 API routers, one module per resource."""
