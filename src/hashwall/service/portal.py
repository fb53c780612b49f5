"""Survivor portal logic: case numbers, PINs (scrypt), and DB-backed throttles.

Case numbers and PINs use an alphabet without look-alikes (no 0/O, 1/I/L), so they survive
being read out over the phone or copied by hand; input is normalised (case, spaces, dashes).

* PIN: 8 characters of 31 (about 40 bits), shown once, stored as ``scrypt$n$r$p$salt$hash``.
  Checking an unknown case still runs scrypt against a dummy hash, so both answers take as
  long; the comparison is constant-time.
* Throttles live in the database (every worker sees them) and are keyed by an HMAC of the
  client address or of the case number *as typed* - never the address or number in clear.
  Counting wrong PINs per typed case number, whether the case exists or not, makes the
  throttling of a real case indistinguishable from that of an unknown one.
* Nothing a stranger does can lock the owner out (issue 14, item 6): wrong PINs lock out
  the *address* that typed them (for all cases, and sooner for that one case), never the
  case. A per-case budget, once spent, only *slows* the case down: every address then gets
  a couple of tries at it per lock-out period, so a distributed guesser gains little and the
  owner, from an address with no failures of its own, still gets in. docs/security.md has
  the arithmetic.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hashwall.store import Database
from hashwall.store.portal_models import PortalThrottle

T = TypeVar("T")
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_GROUP = 4
CASE_PREFIX = "HW"
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_LEN = 32


def _random_code(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def _grouped(code: str) -> str:
    return "-".join(code[i : i + _GROUP] for i in range(0, len(code), _GROUP))


def new_case_number() -> str:
    """``HW-XXXX-XXXX`` (31^8, about 8.5e11 numbers)."""
    return f"{CASE_PREFIX}-{_grouped(_random_code(8))}"


def new_pin() -> str:
    """``XXXX-XXXX`` from the same alphabet."""
    return _grouped(_random_code(8))


def _squash(text: str) -> str:
    return "".join(c for c in text.upper() if c not in " -\t")


def normalize_case_number(text: str) -> str | None:
    """The canonical ``HW-XXXX-XXXX`` form of what someone typed, or None if it cannot be one."""
    code = _squash(text).removeprefix(CASE_PREFIX)
    if len(code) != 8 or any(c not in ALPHABET for c in code):
        return None
    return f"{CASE_PREFIX}-{_grouped(code)}"


def normalize_pin(text: str) -> str | None:
    code = _squash(text)
    if len(code) != 8 or any(c not in ALPHABET for c in code):
        return None
    return code


def hash_pin(pin: str, n: int) -> str:
    """A salted scrypt hash of a (normalised) PIN, with its parameters."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        pin.encode(), salt=salt, n=n, r=_SCRYPT_R, p=_SCRYPT_P, dklen=_SCRYPT_LEN, maxmem=2**27
    )
    return f"scrypt${n}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    """Constant-time check of ``pin`` against ``hash_pin`` output."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            pin.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected) // 2,
            maxmem=2**27,
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


_dummy_hashes: dict[int, str] = {}


def dummy_pin_hash(n: int) -> str:
    """A hash no PIN matches, to spend the same scrypt time on unknown case numbers."""
    if n not in _dummy_hashes:
        _dummy_hashes[n] = hash_pin(secrets.token_hex(16), n)
    return _dummy_hashes[n]


def keyed(secret: str, scope: str, value: str) -> str:
    """HMAC-SHA-256 of ``value`` (an address or a case number): stored instead of the value."""
    message = f"portal:{scope}:{value}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands timestamps back without a zone; they were written in UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


@dataclass(frozen=True)
class Lock:
    """A throttle that is closed: for how long, and why (wording for the person)."""

    scope: str
    retry_after: int


@dataclass(frozen=True)
class Rule:
    """``limit`` events per ``window`` seconds; reaching it closes the throttle for ``lock``."""

    scope: str
    limit: int
    window: int
    lock: int


#: How often one worker prunes a throttle scope (see :meth:`Throttles._prune_now_and_then`).
PRUNE_SECONDS = 60.0
_last_pruned: dict[tuple[str, str], float] = {}


def prune_expired(db: Database, rule: Rule, now: datetime) -> int:
    """Delete ``rule``'s counters whose window is over and that are not locked; how many."""
    with db.session() as session:
        result = session.execute(
            delete(PortalThrottle).where(
                PortalThrottle.scope == rule.scope,
                PortalThrottle.window_start <= now - timedelta(seconds=rule.window),
                or_(PortalThrottle.locked_until.is_(None), PortalThrottle.locked_until <= now),
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class Throttles:
    """Counters in ``portal_throttles``, shared by every worker through the database.

    An attempt *reserves* a slot before the PIN is checked (and gives it back when the PIN was
    right), so concurrent guesses cannot slip past the limit while a check is running.
    """

    def __init__(self, db: Database, secret: str) -> None:
        self.db = db
        self.secret = secret

    def _row(self, session: Session, rule: Rule, key: str) -> PortalThrottle | None:
        where = (PortalThrottle.scope == rule.scope, PortalThrottle.key == key)
        if self.db.is_sqlite:
            # Take SQLite's write lock first (a no-op UPDATE), so read-modify-write is serial.
            session.execute(update(PortalThrottle).where(*where).values(count=PortalThrottle.count))
        return session.scalars(select(PortalThrottle).where(*where).with_for_update()).first()

    def reserve(self, rule: Rule, value: str) -> Lock | None:
        """Count one attempt, or return the lock that refuses it."""
        self._prune_now_and_then(rule)
        key = keyed(self.secret, rule.scope, value)
        return self._retrying(lambda: self._reserve(rule, key))

    def tally(self, rule: Rule, value: str) -> int:
        """Count one attempt in ``rule.window`` without ever refusing it; the count *before*
        it. (A budget that slows others down, where a lock would let a stranger lock out the
        owner.)"""
        key = keyed(self.secret, rule.scope, value)
        return self._retrying(lambda: self._tally(rule, key))

    @staticmethod
    def _retrying(count: Callable[[], T]) -> T:
        for attempt in range(2):
            try:
                return count()
            except IntegrityError:  # two workers inserted the first row at once: count again
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _tally(self, rule: Rule, key: str) -> int:
        now = datetime.now(UTC)
        with self.db.session() as session:
            row = self._row(session, rule, key)
            if row is None:
                session.add(PortalThrottle(scope=rule.scope, key=key, count=1, window_start=now))
                return 0
            started = _aware(row.window_start) or now
            if now - started >= timedelta(seconds=rule.window):
                row.count, row.window_start = 0, now
            before = row.count
            row.count += 1
        return before

    def _prune_now_and_then(self, rule: Rule) -> None:
        """Delete this scope's rows that no longer count, at most once per
        :data:`PRUNE_SECONDS` per worker: the table holds only live counters.

        Why: a row was kept forever per address (and per typed case number) ever seen, so the
        table grew without bound, faster still with throw-away addresses. A row whose window
        has passed and whose lock (if any) has run out means exactly what no row means (the
        next attempt starts a fresh window), so deleting it changes no decision."""
        now_monotonic = time.monotonic()
        marker = (self.db.url, rule.scope)
        if now_monotonic - _last_pruned.get(marker, -PRUNE_SECONDS) < PRUNE_SECONDS:
            return
        _last_pruned[marker] = now_monotonic
        prune_expired(self.db, rule, datetime.now(UTC))

    def _reserve(self, rule: Rule, key: str) -> Lock | None:
        now = datetime.now(UTC)
        with self.db.session() as session:
            row = self._row(session, rule, key)
            if row is None:
                session.add(PortalThrottle(scope=rule.scope, key=key, count=1, window_start=now))
                return None
            until = _aware(row.locked_until)
            if until is not None and until > now:
                return Lock(rule.scope, max(1, math.ceil((until - now).total_seconds())))
            started = _aware(row.window_start) or now
            if until is not None or now - started >= timedelta(seconds=rule.window):
                row.count, row.window_start, row.locked_until = 0, now, None
            if row.count >= rule.limit:
                row.locked_until = now + timedelta(seconds=rule.lock)
                return Lock(rule.scope, rule.lock)
            row.count += 1
        return None

    def release(self, rule: Rule, value: str, *, reset: bool = False) -> None:
        """Give back a reserved attempt (the PIN was right); ``reset`` forgets all failures."""
        key = keyed(self.secret, rule.scope, value)
        with self.db.session() as session:
            row = self._row(session, rule, key)
            if row is None:
                return
            if reset:
                session.delete(row)
            elif row.count > 0:
                row.count -= 1
