"""Match request ids: valid version-7 UUIDs that sort by creation time."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashwall.service.request_ids import new_request_id, request_id_millis

_MILLIS = st.integers(min_value=0, max_value=(1 << 48) - 1)


@given(_MILLIS)
def test_a_request_id_is_a_version_7_uuid_carrying_its_time(millis: int) -> None:
    request_id = new_request_id(millis * 1_000_000 + 999_999)
    parsed = uuid.UUID(request_id)
    assert str(parsed) == request_id and len(request_id) == 36
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert request_id_millis(request_id) == millis


@given(_MILLIS, _MILLIS)
def test_ids_of_different_milliseconds_sort_by_time(first: int, second: int) -> None:
    a, b = new_request_id(first * 1_000_000), new_request_id(second * 1_000_000)
    if first < second:
        assert a < b
    elif first > second:
        assert a > b


def test_ids_made_in_the_same_millisecond_differ() -> None:
    ids = {new_request_id(1_700_000_000_000_000_000) for _ in range(10_000)}
    assert len(ids) == 10_000


def test_a_random_uuid_is_not_taken_for_a_request_id() -> None:
    with pytest.raises(ValueError, match="version-7"):
        request_id_millis(str(uuid.uuid4()))
