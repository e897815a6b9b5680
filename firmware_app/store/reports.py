"""Cash movements, training mode and the day's reports in the lane database.

The lane loop's ``SalesStore.apply`` writes cash movements and the training flag
here, inside its one transaction. Reports are read from the store only, so the
same numbers come back whenever they are asked for again (``firmware-lane report``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

import peewee

from firmware_app.lane.cash_movement import CashKind, CashMovement
from firmware_app.lane.day_report import Count, DayReport, TaxTotal, TenderTotal, ZRecord
from firmware_app.lane.effects import RecordZReport
from firmware_app.lane.money import rate_text, tax_included
from firmware_app.lane.sale import FinishedSale, TenderType
from firmware_app.lane.timestamps import timestamp
from firmware_app.store.db import models_of
from firmware_app.store.journal import GENESIS_HASH, canonical, link_hash
from firmware_app.store.outbox import Outbox
from firmware_app.store.ports import UplinkMessages

TRAINING = "lane.training"  # Meta key: "1" while the lane is in training mode


def insert_movement(m: Any, movement: CashMovement) -> None:
    """Store a paid-in or paid-out (``m``: the database's models, ``models_of``)."""
    m.CashMovement.insert(
        id=movement.id,
        kind=movement.kind.value,
        amount=movement.amount,
        reason=movement.reason,
        cashier=movement.cashier,
        supervisor=movement.supervisor,
        at=timestamp(movement.at),
    ).execute()


def save_training(m: Any, on: bool) -> None:
    if on:
        m.Meta.insert(key=TRAINING, value="1").on_conflict_replace().execute()
    else:
        m.Meta.delete().where(m.Meta.key == TRAINING).execute()


def load_training(m: Any) -> bool:
    """Training mode survives a restart: a lane switched off in training comes back in it."""
    return m.Meta.get_or_none(m.Meta.key == TRAINING) is not None


def next_training_no(m: Any) -> int:
    last = (
        m.TrainingSale.select(m.TrainingSale.training_no)
        .order_by(m.TrainingSale.training_no.desc())
        .first()
    )
    return (last.training_no if last else 0) + 1


def commit_training(
    m: Any, outbox: Outbox, messages: UplinkMessages, record: FinishedSale, body: Mapping[str, Any]
) -> None:
    """A training sale: its row in ``TrainingSale`` and its sale message (``training:
    true``, no stock message), never a ``Transaction`` row or a journal entry, so it
    takes no real receipt number and counts in no report. Its ``journal_hash`` links
    its record to the genesis hash only: it is outside the lane's journal chain."""
    record_text = canonical(body)
    closed_at = str(body["closed_at"])
    m.TrainingSale.insert(
        sale_id=record.sale_id,
        training_no=record.receipt_no,
        closed_at=closed_at,
        record=record_text,
    ).execute()
    digest = link_hash(GENESIS_HASH, record_text)
    seq = outbox.append(
        messages.topic("sales"),
        lambda seq: messages.sale(record_text, at=closed_at, seq=seq, journal_hash=digest),
        record.closed_at,
    )
    mark(m, [seq], record.closed_at, ["training_sale"])


def prune(m: Any, cutoff: str) -> None:
    """Forget cash movements, training sales and uplink marks older than ``cutoff``
    (RFC 3339, as ``SalesStore.prune`` works it out, with the sales of those days).
    The Z reports stay: one row a day, and a closed day's record."""
    m.CashMovement.delete().where(m.CashMovement.at < cutoff).execute()
    m.TrainingSale.delete().where(m.TrainingSale.closed_at < cutoff).execute()
    m.UplinkMark.delete().where(m.UplinkMark.at < cutoff).execute()


def mark(m: Any, seqs: Sequence[int], at: datetime, kinds: Sequence[str]) -> None:
    """Note uplink messages (seq and kind, in order) for the reports of their day (with
    every sale commit: plain SQL through the models' connection)."""
    when = timestamp(at)
    m.UplinkMark._meta.database.connection().executemany(
        f'INSERT INTO "{m.UplinkMark._meta.table_name}" (seq, at, kind) VALUES (?, ?, ?)',
        [(seq, when, kind) for seq, kind in zip(seqs, kinds, strict=False)],
    )


class StoreReports:
    """The day's numbers from the lane database (the core's ``ReportPort``); business
    dates in ``zone`` (the lane's configured time zone)."""

    def __init__(self, db: peewee.SqliteDatabase, zone: tzinfo) -> None:
        self.m = models_of(db)
        self.zone = zone

    def business_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    # --- business periods: a Z closes its date; what follows it is the next date's ---

    def period_date(self, at: datetime) -> date:
        """The business date ``at`` counts in: its local date, or, once that date's Z
        has closed before ``at``, the next date (日结: what follows the Z of a day is the
        next business day's)."""
        day = self.business_date(at)
        return _period_date(at, day, self._closes(day, day + timedelta(days=1)))

    def _closes(self, first: date, last: date) -> dict[date, datetime]:
        """When the Zs of the dates ``first``…``last`` closed them."""
        rows = self.m.ZReport.select().where(
            (self.m.ZReport.business_date >= first.isoformat())
            & (self.m.ZReport.business_date <= last.isoformat())
        )
        return {
            date.fromisoformat(r.business_date): datetime.fromisoformat(r.closed_at) for r in rows
        }

    def _first_local_date(self, day: date) -> date:
        """The earliest local date whose moments may count in ``day``: the day before,
        when its Z closed on that date or earlier (what followed it is ``day``'s)."""
        before = self.closed_at(day - timedelta(days=1))
        return min(self.business_date(before), day) if before is not None else day

    def _rows(
        self, model: Any, column: Any, day: date, until: datetime | None, first: date
    ) -> list[Any]:
        # Any offset puts a local date's times within a day of it as written: narrow by
        # text (indexed), then decide in the lane's zone, Zs included.
        low = (first - timedelta(days=1)).isoformat()
        high = (day + timedelta(days=2)).isoformat()
        closes = self._closes(first, day)
        rows = model.select().where((column >= low) & (column < high))

        def counts(at: datetime) -> bool:
            local = self.business_date(at)
            in_time = first <= local <= day and (until is None or at <= until)
            return in_time and _period_date(at, local, closes) == day

        return [r for r in rows if counts(datetime.fromisoformat(getattr(r, column.name)))]

    def day(self, business_date: date, until: datetime | None = None) -> DayReport:
        """The business date's numbers: its local date's, less what followed its Z,
        plus what followed the day before's Z; ``until``: only what happened up to then
        (a Z's close)."""
        m = self.m
        first = self._first_local_date(business_date)

        def rows(model: Any, column: Any) -> list[Any]:
            return self._rows(model, column, business_date, until, first)

        txns = rows(m.Transaction, m.Transaction.closed_at)
        counted = [t for t in txns if t.kind in ("sale", "return")]
        ids = [t.sale_id for t in counted]
        lines = list(m.TransactionLine.select().where(m.TransactionLine.sale_id.in_(ids)))
        tenders = list(m.TransactionTender.select().where(m.TransactionTender.sale_id.in_(ids)))
        moves = rows(m.CashMovement, m.CashMovement.at)
        # A Z's own event is not in the range it reports.
        marks = [k for k in rows(m.UplinkMark, m.UplinkMark.at) if k.kind != "z_report"]
        seqs = [k.seq for k in marks]
        live = [ln for ln in lines if not ln.voided]
        return DayReport(
            business_date=business_date,
            first_seq=min(seqs, default=None),
            last_seq=max(seqs, default=None),
            sales=_count(t.total for t in counted if t.kind == "sale"),
            returns=_count(t.total for t in counted if t.kind == "return"),
            cancelled=sum(t.kind == "cancelled" for t in txns),
            tenders=_tenders(tenders),
            taxes=_taxes(live),
            voids=sum(bool(ln.voided) for ln in lines),
            no_sales=sum(k.kind == "no_sale" for k in marks),
            discounts=sum(ln.discount for ln in live),
            paid_in=sum(mv.amount for mv in moves if mv.kind == CashKind.IN.value),
            paid_out=sum(mv.amount for mv in moves if mv.kind == CashKind.OUT.value),
            cash_change=sum(t.change for t in counted),
        )

    def z_of(self, business_date: date) -> ZRecord | None:
        row = self.m.ZReport.get_or_none(self.m.ZReport.business_date == business_date.isoformat())
        if row is None:
            return None
        return ZRecord(row.z_no, business_date, json.loads(row.details)["cash_counted"])

    def next_z_no(self) -> int:
        last = self.m.ZReport.select(peewee.fn.MAX(self.m.ZReport.z_no)).scalar()
        return (last or 0) + 1

    def closed_at(self, business_date: date) -> datetime | None:
        """When the day's Z closed it (None: the day is open)."""
        row = self.m.ZReport.get_or_none(self.m.ZReport.business_date == business_date.isoformat())
        return None if row is None else datetime.fromisoformat(row.closed_at)

    def z_details(self, business_date: date) -> dict[str, Any] | None:
        """The Z report of a closed day as it was published (None: the day is open)."""
        row = self.m.ZReport.get_or_none(self.m.ZReport.business_date == business_date.isoformat())
        return None if row is None else dict(json.loads(row.details))


def insert_z(m: Any, z: RecordZReport) -> None:
    """Close the day: a second Z for the same date fails (unique), and with it the step."""
    m.ZReport.insert(
        z_no=z.z_no,
        business_date=z.business_date.isoformat(),
        closed_at=timestamp(z.at),
        cashier=z.cashier,
        details=z.details,
    ).execute()


def _period_date(at: datetime, local: date, closes: Mapping[date, datetime]) -> date:
    """The business date of a moment ``at`` of local date ``local``: past each date
    whose Z closed before it (``closes``: dates and when their Zs closed)."""
    day = local
    while (closed := closes.get(day)) is not None and at > closed:
        day += timedelta(days=1)
    return day


def _count(totals: Iterable[int]) -> Count:
    amounts = list(totals)
    return Count(len(amounts), sum(amounts))


def _tenders(rows: Iterable[Any]) -> tuple[TenderTotal, ...]:
    count: dict[str, int] = defaultdict(int)
    amount: dict[str, int] = defaultdict(int)
    for row in rows:
        count[row.type] += 1
        amount[row.type] += row.amount
    order = [t.value for t in TenderType]
    return tuple(
        TenderTotal(kind, count[kind], amount[kind])
        for kind in sorted(count, key=lambda k: order.index(k) if k in order else len(order))
    )


def _taxes(lines: Iterable[Any]) -> tuple[TaxTotal, ...]:
    """Per rate: the gross net of discounts, and the tax each transaction worked out
    (rounded per transaction and rate, as its sale message says)."""
    by_sale: dict[tuple[str, Decimal], int] = defaultdict(int)
    for line in lines:
        by_sale[(line.sale_id, Decimal(line.tax_rate))] += line.amount - line.discount
    gross: dict[Decimal, int] = defaultdict(int)
    tax: dict[Decimal, int] = defaultdict(int)
    for (_, rate), amount in by_sale.items():
        gross[rate] += amount
        tax[rate] += tax_included(amount, rate)
    return tuple(
        TaxTotal(rate_text(rate), gross[rate], tax[rate]) for rate in sorted(gross, reverse=True)
    )
