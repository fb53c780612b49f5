"""Key ring: read under the current or a previous key, write under the current one."""

from __future__ import annotations

import numpy as np
import pytest

from hashwall.likeness.errors import TemplateError, WrongKeyError
from hashwall.likeness.keyring import KeyRing
from hashwall.likeness.templates import Template, TemplateKey, template_to_bytes

OLD, NEW, OTHER = TemplateKey.generate(), TemplateKey.generate(), TemplateKey.generate()


def template() -> Template:
    embedding = np.zeros((1, 128), dtype=np.float32)
    embedding[0, 3] = 1.0
    return Template.new(embedding, "model@x", "It is me.", "detector@y")


def test_previous_keys_open_and_only_the_current_key_seals() -> None:
    original = template()
    stored = template_to_bytes(original, OLD)
    ring = KeyRing(NEW, (OTHER, OLD))
    opened = ring.open(stored, "row 1")
    assert opened.template.template_id == original.template_id
    assert opened.under_current_key is False
    resealed = ring.reseal(stored, "row 1")
    assert resealed is not None and resealed != stored
    # After re-sealing the new key alone suffices and the old key no longer opens it.
    assert KeyRing(NEW).open(resealed, "row 1").under_current_key is True
    with pytest.raises(WrongKeyError):
        KeyRing(OLD).open(resealed, "row 1")
    assert ring.reseal(resealed, "row 1") is None


def test_no_fitting_key_is_a_clear_error_without_key_material() -> None:
    stored = template_to_bytes(template(), OLD)
    with pytest.raises(WrongKeyError, match="any of the 2 configured key") as caught:
        KeyRing(NEW, (OTHER,)).open(stored, "row 7")
    message = str(caught.value)
    assert message.startswith("row 7:")
    assert all(key.encoded() not in message for key in (OLD, NEW, OTHER))


def test_a_corrupt_envelope_fails_at_once_not_as_a_wrong_key() -> None:
    stored = template_to_bytes(template(), OLD).replace(b'"nonce":"', b'"nonce":"!', 1)
    with pytest.raises(TemplateError, match="cannot decrypt") as caught:
        KeyRing(NEW, (OLD,)).open(stored, "row 2")
    assert not isinstance(caught.value, WrongKeyError)
