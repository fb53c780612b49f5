"""Likeness protection in the service: consented template upload, revocation and screening.

See docs/likeness.md, "Service". The ML stack (onnxruntime, OpenCV) and ``cryptography`` are
imported lazily, so a server installed without the ``likeness`` extra starts and answers the
likeness endpoints with 503.
"""
