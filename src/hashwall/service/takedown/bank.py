"""The takedown bank: where the hashes of every removal request go.

Created on the first request under the configured name. Its entries are ordinary active bank
entries, so the normal match path (``/v1/match/...``, catalog registration) catches re-uploads
of the content at once. It has no bank action: the removal tasks of the case are its action.
Anyone can file a request, so it is a public bank (``entry_source = "takedown"``): its matches
ask for review (``needs_review``) rather than automatic action, unless an admin opts it in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hashwall.service.system_banks import ensure_bank

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

#: ``banks.entry_source`` of the takedown bank: anyone may file a removal request.
TAKEDOWN_SOURCE = "takedown"
DESCRIPTION = "Hashes of content named in removal requests (hashwall takedown)"


def takedown_bank(state: ServiceState) -> int:
    """The id of the takedown bank, creating it when missing (race-safe across workers)."""
    return ensure_bank(
        state,
        state.settings.takedown_bank,
        description=DESCRIPTION,
        action=None,
        source=TAKEDOWN_SOURCE,
    )
