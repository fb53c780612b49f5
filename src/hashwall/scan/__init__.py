"""``hashwall scan``: find copies of known NCII in a pile of content (folders, web archives,
reported URLs) and write evidence for removal notices, keeping nothing of the media itself.

Layout, one concept per module: :mod:`~hashwall.scan.sources` turn inputs into items,
:mod:`~hashwall.scan.fetch` fetches URLs politely, :mod:`~hashwall.scan.banks` loads the hash
lists, :mod:`~hashwall.scan.worker` hashes and matches one item, :mod:`~hashwall.scan.pipeline`
drives it all on local cores or Ray (:mod:`~hashwall.scan.executors`), with a resumable
:mod:`~hashwall.scan.checkpoint`; :mod:`~hashwall.scan.findings` and
:mod:`~hashwall.scan.report` write the evidence.
"""
