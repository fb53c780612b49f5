"""Limits shared by the decoders, in a module light enough for the CLI to import at start-up."""

#: Bigger than any phone camera (200 MP sensors exist), small enough that a crafted 100k x 100k
#: "decompression bomb" is refused from its header, before a single pixel is decoded.
DEFAULT_MAX_PIXELS = 250_000_000
#: Refuse videos longer than this (4 hours): a guard against endless or bogus streams.
DEFAULT_MAX_VIDEO_SECONDS = 4 * 3600.0
