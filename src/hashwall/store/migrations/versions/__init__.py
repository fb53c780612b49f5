"""Migration scripts, applied in order by :func:`hashwall.store.upgrade`."""
