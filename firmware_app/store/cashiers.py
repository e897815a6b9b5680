"""Cashier accounts: PINs kept only as salted scrypt hashes; wrong PINs counted per id."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from datetime import datetime

import peewee

from firmware_app.errors import StoreError
from firmware_app.lane.effects import ClearPinFailures, RecordPinFailure
from firmware_app.lane.ports import Cashier, PinRecord, Role
from firmware_app.lane.timestamps import timestamp
from firmware_app.store.db import models_of

# scrypt cost: about 50 ms on a Raspberry Pi 4 per sign-on, which is fine for a
# person and slow for someone trying every 4-digit PIN from a stolen SD card.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PIN_PATTERN = re.compile(r"^\d{4,8}$")
ID_PATTERN = re.compile(r"^\d{1,12}$")


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(computed.hex(), digest)


class Cashiers:
    """The cashier port of the lane core (``verify``, ``find``, ``pin_record``) plus
    account management; ``record_pin`` writes the lockout inside the lane loop's
    transaction."""

    def __init__(self, db: peewee.SqliteDatabase) -> None:
        self.db = db
        self.account = models_of(db).CashierAccount
        self._pins = '"' + models_of(db).PinFailure._meta.table_name + '"'

    def find(self, cashier_id: str) -> Cashier | None:
        row = self.account.get_or_none(self.account.id == cashier_id)
        return None if row is None else Cashier(row.id, Role(row.role))

    def pin_record(self, cashier_id: str) -> PinRecord:
        row = (
            self.db.connection()
            .execute(
                f"SELECT failures, locked_until FROM {self._pins} WHERE cashier_id = ?",
                (cashier_id,),
            )
            .fetchone()
        )
        if row is None:
            return PinRecord()
        failures, until = row
        return PinRecord(failures, datetime.fromisoformat(until) if until else None)

    def record_pin(self, effect: RecordPinFailure | ClearPinFailures) -> None:
        """Write one lockout effect; must run inside the caller's transaction."""
        conn = self.db.connection()
        if isinstance(effect, ClearPinFailures):
            conn.execute(f"DELETE FROM {self._pins} WHERE cashier_id = ?", (effect.cashier_id,))
            return
        until = timestamp(effect.locked_until) if effect.locked_until else None
        conn.execute(
            f"INSERT OR REPLACE INTO {self._pins} "
            "(cashier_id, failures, locked_until, last_failed_at) VALUES (?, ?, ?, ?)",
            (effect.cashier_id, effect.failures, until, timestamp(effect.at)),
        )

    def verify(self, cashier_id: str, pin: str) -> Cashier | None:
        row = self.account.get_or_none(self.account.id == cashier_id)
        if row is None:
            hash_pin(pin)  # same time whether or not the id exists
            return None
        if not check_pin(pin, row.pin_hash):
            return None
        return Cashier(row.id, Role(row.role))

    def add(self, cashier_id: str, role: Role, pin: str, *, now: datetime) -> None:
        """Create or replace an account; raises ``StoreError`` for a bad id or PIN."""
        if not ID_PATTERN.match(cashier_id):
            raise StoreError(f"cashier id {cashier_id!r}: expected 1 to 12 digits")
        if not PIN_PATTERN.match(pin):
            raise StoreError("PIN: expected 4 to 8 digits")
        with self.db.atomic():
            self.account.insert(
                id=cashier_id,
                role=role.value,
                pin_hash=hash_pin(pin),
                created_at=now.isoformat(timespec="seconds"),
            ).on_conflict_replace().execute()
