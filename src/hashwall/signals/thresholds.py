"""Meta's PDQ thresholds, in a module with no imports (the CLI reads them at start-up)."""

#: Two PDQ hashes match at Hamming distance <= 31 (inclusive).
PDQ_DISTANCE_THRESHOLD = 31
#: PDQ hashes below quality 50 are not matched on.
PDQ_QUALITY_THRESHOLD = 50
