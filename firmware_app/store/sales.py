"""Sales in SQLite: the open sale line by line, finished transactions, the journal chain,
and their outbox messages, all written by the lane loop.

``apply`` runs all durable effects of one event in one transaction: a sale's
rows, its journal entry and its outbox messages (with their gapless seqs) are
committed together or not at all, before the drawer opens or the receipt prints.
The lane loop applies the payment log's lines (``LogPayment``) first, on their
own, so that an approval is kept even when its sale cannot be saved;
``load_open_sale`` adds such approvals back to the open sale.

The writes of a scan and of a sale's commit are plain SQL on peewee's
connection (the models still own the schema): they are the lane's hot path,
and peewee's query building cost as much as SQLite's commit. A scan writes its
new line only; the open sale's header and earlier lines are written again only
when they changed.
"""

from __future__ import annotations

import itertools
import json
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import peewee

from firmware_app.lane.catalog import Unit
from firmware_app.lane.effects import (
    ClearPinFailures,
    CommitSale,
    DiscardSale,
    LogPayment,
    ParkSale,
    PaymentStatus,
    PrintReceipt,
    RecordCashMovement,
    RecordEvent,
    RecordPinFailure,
    RecordZReport,
    SaveSale,
    SaveSession,
    SaveTraining,
    UnparkSale,
)
from firmware_app.lane.parked import ParkedSale
from firmware_app.lane.ports import Cashier, Role
from firmware_app.lane.sale import FinishedSale, Line, Sale, Tender, TenderType
from firmware_app.lane.timestamps import timestamp
from firmware_app.store import line_adjustments, member_rows, models, reports, suspended
from firmware_app.store import returns as return_links
from firmware_app.store.cashiers import Cashiers
from firmware_app.store.db import models_of, write_transaction
from firmware_app.store.journal import (
    GENESIS_HASH,
    canonical,
    checkpoint_value,
    key_path,
    lane_key,
    link_hash,
)
from firmware_app.store.outbox import Outbox
from firmware_app.store.ports import UplinkMessages
from firmware_app.store.print_queue import PrintQueue

log = logging.getLogger(__name__)

SESSION = "lane.session"
JOURNAL_CHECKPOINT = "journal.checkpoint"  # {"no", "hash", "seal"} of the last pruned entry
# Set by a restore and by pruning: receipt numbers below it went out with sales this
# database no longer holds (the store server does), so they are never given again.
NEXT_RECEIPT = "receipt.next_no"
LINE_COLUMNS = (
    "no, sku, code, name, unit, qty, unit_price, amount, tax_rate, discount, voided, weight_text"
)


class SalesStore:
    """Writes of the lane loop, and what it reads back at start-up."""

    def __init__(self, db: peewee.SqliteDatabase, *, messages: UplinkMessages) -> None:
        self.db = db
        self.messages = messages
        self.m = models_of(db)
        self.outbox = Outbox(db)
        self.print_queue = PrintQueue(db)
        self.cashiers = Cashiers(db)  # roles and approvals: the PIN lockout
        t = {name: '"' + getattr(self.m, name)._meta.table_name + '"' for name in vars(self.m)}
        self._t = t
        self._insert_open_line = (
            f"INSERT OR REPLACE INTO {t['OpenLine']} (sale_id, {LINE_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._insert_line = (
            f"INSERT INTO {t['TransactionLine']} (sale_id, {LINE_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._at: datetime | None = None
        # What is on disk of the open sale, so a scan writes only what changed.
        self._saved_header: tuple[object, ...] | None = None
        # line no -> its row (and its adjustments' text: price override and discounts)
        self._saved_lines: dict[int, tuple[object, ...]] = {}
        self._saved_objects: dict[int, Line] = {}  # line no -> the Line last compared
        self._key: bytes | None = None  # the journal key, read on the first prune

    # --- writing -----------------------------------------------------------------

    def apply(self, effects: Iterable[object], *, at: datetime | None = None) -> None:
        """Apply durable effects in one transaction; raises on any failure, writing nothing.

        A ``PrintReceipt`` among them queues its receipt for the printer (``at``: now).
        """
        self._at = at
        saved = self._saved_header, dict(self._saved_lines), dict(self._saved_objects)
        try:
            with write_transaction(self.db.connection()):
                for effect in effects:
                    self._apply_one(effect)
        except BaseException:
            self._saved_header, self._saved_lines, self._saved_objects = saved
            raise

    def _apply_one(self, effect: object) -> None:
        match effect:
            case SaveSale(sale=sale):
                self._save_sale(sale)
            case DiscardSale(sale_id=sale_id):
                self._drop_open(sale_id)
            case SaveSession(cashier=cashier):
                self._save_session(cashier)
            case CommitSale(record=record):
                self._commit(record)
            case PrintReceipt(receipt=receipt):
                self.print_queue.add(receipt, self._at or datetime.now().astimezone())
            case LogPayment():
                self._log_payment(effect)
            case RecordPinFailure() | ClearPinFailures():
                self.cashiers.record_pin(effect)
            case RecordEvent(event=event):
                seq = self.outbox.append(
                    self.messages.topic("events"),
                    lambda seq: self.messages.event(event, seq=seq),
                    event.at,
                )
                reports.mark(self.m, [seq], event.at, [event.type])  # for the day's reports
            # Suspend and resume: parked and open in one transaction, never both.
            case ParkSale(parked=parked):
                suspended.park(self.db.connection(), parked)
                self._drop_open(parked.sale.id)
            case UnparkSale(no=no, sale_id=sale_id):
                suspended.unpark(self.db.connection(), no, sale_id)
            case RecordCashMovement(movement=movement):  # cash movements
                reports.insert_movement(self.m, movement)
            case SaveTraining(on=on):  # training mode
                reports.save_training(self.m, on)
            case RecordZReport():  # reports
                reports.insert_z(self.m, effect)
            case _:
                raise TypeError(f"not a durable effect: {effect!r}")

    def _log_payment(self, entry: LogPayment) -> None:
        """Insert the charge's row, or update its status and references (never its sale,
        kind or amount, which the first line of the charge fixed)."""
        at = timestamp(entry.at)
        payment = self.m.Payment
        payment.insert(
            id=entry.payment_id,
            sale_id=entry.sale_id,
            tender=entry.tender.value,
            amount=entry.amount,
            status=entry.status.value,
            reference=entry.reference,
            reversal=entry.reversal,
            requested_at=at,
            updated_at=at,
        ).on_conflict(
            conflict_target=[payment.id],
            update={
                payment.status: entry.status.value,
                payment.reference: entry.reference,
                payment.reversal: entry.reversal,
                payment.updated_at: at,
            },
        ).execute()

    def _save_sale(self, sale: Sale) -> None:
        conn, t = self.db.connection(), self._t
        # Compared as values, written as text only when it changed (not on every scan).
        header = (
            sale.id,
            sale.opened_at,
            sale.cashier,
            sale.member,
            sale.rounding,
            sale.tenders,
            sale.age_checked,  # restrictions
            sale.member_check,  # members
        )
        if header != self._saved_header:
            tenders = json.dumps([_tender_row(tender) for tender in sale.tenders])
            conn.execute(
                f"INSERT OR REPLACE INTO {t['OpenSale']} "
                "(id, opened_at, cashier, member, rounding, tenders, age_checked, member_check) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sale.id,
                    timestamp(sale.opened_at),
                    sale.cashier,
                    sale.member,
                    sale.rounding,
                    tenders,
                    json.dumps(list(sale.age_checked)),
                    member_rows.to_text(sale.member_check),
                ),
            )
            self._saved_header = header
        changed = []
        adjusted_rows: list[tuple[str, int, str]] = []  # price override and discounts
        unadjusted: list[tuple[str, int]] = []
        for line in sale.lines:
            # A sale's update keeps the Line objects it did not change: only new or
            # changed lines (a void, a recomputed discount) are compared and written.
            if self._saved_objects.get(line.no) is line:
                continue
            self._saved_objects[line.no] = line
            row = _line_values(line)
            adjusted = line_adjustments.to_text(line)  # price override and discounts
            if self._saved_lines.get(line.no) != (*row, adjusted):
                changed.append((sale.id, *row))
                if adjusted is None:
                    unadjusted.append((sale.id, line.no))
                else:
                    adjusted_rows.append((sale.id, line.no, adjusted))
                self._saved_lines[line.no] = (*row, adjusted)
        if unadjusted:
            conn.executemany(
                f"DELETE FROM {t['OpenLineAdjustment']} WHERE sale_id = ? AND no = ?", unadjusted
            )
        if adjusted_rows:
            conn.executemany(
                f"INSERT OR REPLACE INTO {t['OpenLineAdjustment']} (sale_id, no, record) "
                "VALUES (?, ?, ?)",
                adjusted_rows,
            )
        if changed:
            conn.executemany(self._insert_open_line, changed)
            # Returns: the links of the changed lines that give something back.
            nos = {row[1] for row in changed}
            return_links.save_links(conn, sale.id, (ln for ln in sale.lines if ln.no in nos))

    def _drop_open(self, sale_id: str) -> None:
        conn, t = self.db.connection(), self._t
        conn.execute(f"DELETE FROM {t['OpenLine']} WHERE sale_id = ?", (sale_id,))
        conn.execute(f"DELETE FROM {t['OpenLineAdjustment']} WHERE sale_id = ?", (sale_id,))
        conn.execute(f"DELETE FROM {t['OpenSale']} WHERE id = ?", (sale_id,))
        self._saved_header, self._saved_lines, self._saved_objects = None, {}, {}

    def _save_session(self, cashier: Cashier | None) -> None:
        conn, meta = self.db.connection(), self._t["Meta"]
        if cashier is None:
            conn.execute(f"DELETE FROM {meta} WHERE key = ?", (SESSION,))
            return
        value = json.dumps({"cashier": cashier.id, "role": cashier.role.value})
        conn.execute(f"INSERT OR REPLACE INTO {meta} (key, value) VALUES (?, ?)", (SESSION, value))

    def _commit(self, record: FinishedSale) -> None:
        conn, t = self.db.connection(), self._t
        body = self.messages.sale_body(record)
        if record.training:  # training mode: kept apart, see store.reports
            reports.commit_training(self.m, self.outbox, self.messages, record, body)
            self._drop_open(record.sale_id)
            return
        last = conn.execute(f"SELECT hash FROM {t['JournalEntry']} ORDER BY no DESC LIMIT 1")
        prev_hash = next(iter(last), (GENESIS_HASH,))[0]
        record_text = canonical(body)
        journal_hash = link_hash(prev_hash, record_text)
        conn.execute(
            f"INSERT INTO {t['JournalEntry']} (sale_id, prev_hash, hash, record) "
            "VALUES (?, ?, ?, ?)",
            (record.sale_id, prev_hash, journal_hash, record_text),
        )
        conn.execute(
            f"INSERT INTO {t['Transaction']} (sale_id, receipt_no, kind, opened_at, closed_at, "
            "cashier, member, currency, total, tax, rounding, change, journal_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.sale_id, record.receipt_no, record.kind.value, body["opened_at"],
                body["closed_at"], record.cashier, record.member, record.currency,
                record.total, record.tax, record.rounding, record.change, journal_hash,
            ),
        )  # fmt: skip
        conn.executemany(
            self._insert_line,
            [(record.sale_id, *_line_values(line)) for line in record.lines],
        )
        return_links.save_links(conn, record.sale_id, record.lines)  # returns
        counted = (tender for tender in record.tenders if not tender.voided)
        conn.executemany(
            f"INSERT INTO {t['TransactionTender']} (sale_id, no, type, amount, reference) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (record.sale_id, no, tender.type.value, tender.amount, tender.reference)
                for no, tender in enumerate(counted, 1)
            ],
        )
        messages = [
            (
                self.messages.topic("sales"),
                lambda seq: self.messages.sale(
                    record_text, at=body["closed_at"], seq=seq, journal_hash=journal_hash
                ),
            )
        ]
        if record.deltas:
            messages.append(
                (self.messages.topic("stock"), lambda seq: self.messages.stock(record, seq=seq))
            )
        seqs = self.outbox.append_all(messages, record.closed_at)
        reports.mark(self.m, seqs, record.closed_at, ["sale", "stock"])  # the day's reports
        self._drop_open(record.sale_id)

    # --- housekeeping -------------------------------------------------------------------

    def prune(self, closed_before: datetime, *, batch: int = 500) -> int:
        """Delete up to ``batch`` finished transactions closed before ``closed_before``
        whose messages the store server has acknowledged; returns how many went.

        The journal keeps a checkpoint (the last deleted entry's number and hash,
        sealed with the lane's journal key, made on the first prune: see ``journal``)
        so the chain of what remains can still be verified.
        """
        m = self.m
        cutoff = timestamp(closed_before)
        oldest_unacked = self.outbox.stats().oldest_at
        if oldest_unacked is not None:
            cutoff = min(cutoff, oldest_unacked)  # never drop what has not reached the store
        journal, txn = m.JournalEntry, m.Transaction
        with self.db.atomic():
            reports.prune(m, cutoff)  # cash movements, training sales, uplink marks
            oldest = (
                journal.select(journal.no, journal.sale_id, journal.hash, txn.closed_at)
                .join(txn, on=(txn.sale_id == journal.sale_id))
                .order_by(journal.no)
                .limit(batch)
                .objects()
            )
            # Only ever the oldest entries, so what remains is one unbroken chain.
            entries = list(itertools.takewhile(lambda e: e.closed_at < cutoff, oldest))
            if not entries:
                return 0
            last = entries[-1]
            # The receipt numbers of what goes stay taken: the store server holds them.
            next_no = self.next_receipt_no()
            m.Meta.insert(key=NEXT_RECEIPT, value=str(next_no)).on_conflict_replace().execute()
            checkpoint = checkpoint_value(last.no, last.hash, self._journal_key())
            m.Meta.insert(key=JOURNAL_CHECKPOINT, value=checkpoint).on_conflict_replace().execute()
            ids = [e.sale_id for e in entries]
            for table in (m.TransactionLine, m.TransactionTender, m.Transaction, m.Payment):
                table.delete().where(table.sale_id.in_(ids)).execute()
            return_links.drop_links(self.db.connection(), ids)  # returns
            m.JournalEntry.delete().where(m.JournalEntry.no <= last.no).execute()
        return len(entries)

    def _journal_key(self) -> bytes:
        if self._key is None:
            self._key = lane_key(key_path(self.db.database))
        return self._key

    # --- reading back at start-up ------------------------------------------------------

    def load_session(self) -> Cashier | None:
        row = self.m.Meta.get_or_none(self.m.Meta.key == SESSION)
        if row is None:
            return None
        data = json.loads(row.value)
        return Cashier(data["cashier"], Role(data["role"]))

    def load_parked(self) -> tuple[tuple[ParkedSale, ...], int]:
        """The parked sales and the next suspend number (suspend and resume)."""
        conn = self.db.connection()
        return suspended.load(conn), suspended.next_no(conn)

    def load_open_sale(self) -> Sale | None:
        row = self.m.OpenSale.select().order_by(self.m.OpenSale.opened_at.desc()).first()
        if row is None:
            return None
        adjustments = self.m.OpenLineAdjustment  # price override and discounts
        adjusted = {
            a.no: json.loads(a.record)
            for a in adjustments.select().where(adjustments.sale_id == row.id)
        }
        linked = return_links.links(self.db.connection(), row.id)  # returns
        lines = tuple(
            replace(
                line_adjustments.with_row(_line_from(r), adjusted.get(r.no)),
                return_of=linked.get(r.no),
            )
            for r in self.m.OpenLine.select()
            .where(self.m.OpenLine.sale_id == row.id)
            .order_by(self.m.OpenLine.no)
        )
        self._saved_lines = {
            line.no: (*_line_values(line), line_adjustments.to_text(line)) for line in lines
        }
        tenders = tuple(_tender_from(t) for t in json.loads(row.tenders))
        return Sale(
            id=row.id,
            opened_at=datetime.fromisoformat(row.opened_at),
            cashier=row.cashier,
            lines=lines,
            tenders=self._with_logged_payments(row.id, tenders),
            member=row.member,
            rounding=row.rounding,
            age_checked=tuple(json.loads(row.age_checked or "[]")),  # restrictions
            member_check=member_rows.from_text(row.member_check),  # members
        )

    def _with_logged_payments(
        self, sale_id: str, tenders: tuple[Tender, ...]
    ) -> tuple[Tender, ...]:
        """``tenders`` as the payment log knows them: an approval the sale was not saved
        with is added, a reversal it was not saved with voids its tender."""
        logged = {
            p.id: p
            for p in self.m.Payment.select()
            .where(self.m.Payment.sale_id == sale_id)
            .order_by(self.m.Payment.requested_at)
        }
        settled = []
        for tender in tenders:
            entry = logged.pop(tender.payment_id, None) if tender.payment_id else None
            if entry is not None and entry.status == PaymentStatus.REVERSED.value:
                tender = replace(tender, voided=True, reversal=entry.reversal)
            elif entry is not None:
                _warn_unanswered(entry)
            settled.append(tender)
        for entry in logged.values():
            if entry.status in (PaymentStatus.APPROVED.value, PaymentStatus.REVERSED.value):
                log.warning(
                    "payment %s of sale %s restored from the payment log", entry.id, sale_id
                )
                settled.append(_tender_logged(entry))
            else:
                _warn_unanswered(entry)
        return tuple(settled)

    def next_receipt_no(self) -> int:
        """After the last receipt here, and never below what a restore set aside."""
        return (last_receipt_no(self.db.connection()) or 0) + 1


def last_receipt_no(conn: sqlite3.Connection) -> int | None:
    """The highest receipt number a lane database has issued or set aside (pruning's or a
    restore's ``receipt.next_no``); None for a lane that has issued none."""
    txn, meta = models.Transaction._meta.table_name, models.Meta._meta.table_name
    last = conn.execute(f'SELECT MAX(receipt_no) FROM "{txn}"').fetchone()[0]
    row = conn.execute(f'SELECT value FROM "{meta}" WHERE key = ?', (NEXT_RECEIPT,)).fetchone()
    floor = (int(row[0]) if row else 0) - 1
    if last is None and floor < 1:
        return None
    return max(last or 0, floor)


def _tender_row(tender: Tender) -> dict[str, object]:
    return {
        "type": tender.type.value,
        "amount": tender.amount,
        "reference": tender.reference,
        "payment_id": tender.payment_id,
        "voided": tender.voided,
        "reversal": tender.reversal,
    }


def _tender_from(row: dict[str, object]) -> Tender:
    return Tender(
        TenderType(str(row["type"])),
        int(str(row["amount"])),
        str(row.get("reference", "")),
        str(row.get("payment_id", "")),
        bool(row.get("voided", False)),
        str(row.get("reversal", "")),
    )


def _warn_unanswered(entry: peewee.Model) -> None:
    """A charge or reversal the terminal was working on when the lane stopped: whether
    it went through is known only to the terminal."""
    if entry.status in (PaymentStatus.REQUESTED.value, PaymentStatus.REVERSING.value):
        log.warning(
            "payment %s (%s %d) of sale %s was %s when the lane stopped: check the terminal",
            entry.id, entry.tender, entry.amount, entry.sale_id, entry.status,
        )  # fmt: skip


def _tender_logged(entry: peewee.Model) -> Tender:
    """The tender of an approved (or since reversed) charge, from its payment log row."""
    reversed_ = entry.status == PaymentStatus.REVERSED.value
    return Tender(
        TenderType(entry.tender),
        entry.amount,
        entry.reference,
        entry.id,
        voided=reversed_,
        reversal=entry.reversal if reversed_ else "",
    )


def _line_values(line: Line) -> tuple[object, ...]:
    """A line's row, in ``LINE_COLUMNS`` order."""
    return (
        line.no, line.sku, line.code, line.name, line.unit.value, line.qty, line.unit_price,
        line.amount, str(line.tax_rate), line.discount, line.voided, line.weight_text,
    )  # fmt: skip


def _line_from(row: peewee.Model) -> Line:
    return Line(
        no=row.no,
        sku=row.sku,
        code=row.code,
        name=row.name,
        unit=Unit(row.unit),
        qty=row.qty,
        unit_price=row.unit_price,
        amount=row.amount,
        tax_rate=Decimal(row.tax_rate),
        discount=row.discount,
        voided=bool(row.voided),
        weight_text=row.weight_text,
    )
