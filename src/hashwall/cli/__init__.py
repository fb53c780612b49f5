"""The ``hashwall`` command line (Typer). Commands live one per module; ``app`` wires them up."""
