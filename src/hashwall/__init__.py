"""hashwall: fingerprint, match and take down non-consensual intimate imagery.

Layers, bottom up (lower layers never import higher ones):
media -> signals -> index -> store -> service -> cases/likeness -> web/cli.
"""

__version__ = "0.1.0"
