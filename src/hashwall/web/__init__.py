"""Browser-facing parts of hashwall: in-browser hashing (``static/``) and the server-rendered
reviewer pages and public removal-request form (``review/``), which sit above the service."""
