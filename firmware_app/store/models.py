"""Tables of the lane database.

Money columns are integers in minor units; quantities are integer thousandths
of the unit (grams for ``kg``); timestamps are RFC 3339 strings with offset;
tax rates are decimal strings (``"13"``).
"""

from __future__ import annotations

import peewee


class BaseModel(peewee.Model):
    """Unbound: ``store.db`` gives each open database its own bound subclasses
    (``models_of(db)``), so that several lanes' databases can live in one process."""

    class Meta:
        database = None


class Meta(BaseModel):
    """Small named values: next outbox seq, the signed-on cashier; in the catalog
    database, the catalog version."""

    key = peewee.TextField(primary_key=True)
    value = peewee.TextField()


class CatalogItem(BaseModel):
    sku = peewee.TextField(primary_key=True)
    name = peewee.TextField()
    unit = peewee.TextField()  # each | kg
    price = peewee.IntegerField()  # minor units, per piece or per kg, tax included
    tax_rate = peewee.TextField()
    plu = peewee.IntegerField(null=True, index=True)
    age_restricted = peewee.BooleanField(default=False)
    active = peewee.BooleanField(default=True)
    # Restrictions (age checks, sale hours) and the member price; sale hours "HH:MM".
    department = peewee.TextField(null=True)
    min_age = peewee.IntegerField(null=True)
    sale_from = peewee.TextField(null=True)
    sale_until = peewee.TextField(null=True)
    member_price = peewee.IntegerField(null=True)


class ItemCode(BaseModel):
    """A code of an item, by its lookup key (``barcodes.catalog_key``)."""

    code = peewee.TextField(primary_key=True)
    sku = peewee.TextField(index=True)


class CatalogStagePart(BaseModel):
    """One part of a catalog change sent in several messages: its rows wait in the
    ``CatalogStage*`` tables until every part has come, then apply in one transaction."""

    version = peewee.IntegerField()
    part = peewee.IntegerField()
    parts = peewee.IntegerField()
    base_version = peewee.IntegerField(null=True)  # None: a snapshot
    promotions = peewee.TextField(default="[]")  # JSON, as the lane checked them
    received_at = peewee.TextField()
    # Promotions: ids the part takes away (JSON list), and its loyalty rule as JSON
    # (``null``: none; NULL: the part did not send one).
    removed_promotions = peewee.TextField(default="[]")
    loyalty = peewee.TextField(null=True)

    class Meta:
        primary_key = peewee.CompositeKey("version", "part")


class CatalogStageItem(BaseModel):
    """An item of a staged part, as ``CatalogItem`` will hold it; ``pos`` is its index
    in the part's ``items`` (for error messages)."""

    version = peewee.IntegerField()
    part = peewee.IntegerField()
    pos = peewee.IntegerField()
    sku = peewee.TextField()
    name = peewee.TextField()
    unit = peewee.TextField()
    price = peewee.IntegerField()
    tax_rate = peewee.TextField()
    plu = peewee.IntegerField(null=True)
    age_restricted = peewee.BooleanField()
    active = peewee.BooleanField()
    # Restrictions (age checks, sale hours) and the member price; sale hours "HH:MM".
    department = peewee.TextField(null=True)
    min_age = peewee.IntegerField(null=True)
    sale_from = peewee.TextField(null=True)
    sale_until = peewee.TextField(null=True)
    member_price = peewee.IntegerField(null=True)

    class Meta:
        # No other index: staging 100,000 rows then reading them once in key order costs
        # less than keeping indexes up to date for the checks' few GROUP BYs.
        primary_key = peewee.CompositeKey("version", "part", "pos")


class CatalogStageCode(BaseModel):
    version = peewee.IntegerField()
    code = peewee.TextField()  # the lookup key (``barcodes.catalog_key``)
    sku = peewee.TextField()
    part = peewee.IntegerField()

    class Meta:
        primary_key = False


class CatalogStageRemoved(BaseModel):
    version = peewee.IntegerField()
    sku = peewee.TextField()
    part = peewee.IntegerField()

    class Meta:
        primary_key = False


class CashierAccount(BaseModel):
    id = peewee.TextField(primary_key=True)
    role = peewee.TextField()  # cashier | supervisor | technician
    pin_hash = peewee.TextField()  # scrypt$n$r$p$salt$hash, never the PIN
    created_at = peewee.TextField()


# Roles and approvals: the PIN lockout.
class PinFailure(BaseModel):
    """Wrong PINs keyed in a row for one id, known or not (no foreign key: counting
    unknown ids too says nothing about which exist); the row goes with a right PIN."""

    cashier_id = peewee.TextField(primary_key=True)
    failures = peewee.IntegerField()
    locked_until = peewee.TextField(null=True)  # RFC 3339; None: not locked
    last_failed_at = peewee.TextField()


class OpenSale(BaseModel):
    """The sale in progress (at most one), rewritten at every change."""

    id = peewee.TextField(primary_key=True)
    opened_at = peewee.TextField()
    cashier = peewee.TextField()
    member = peewee.TextField(null=True)
    rounding = peewee.IntegerField(default=0)
    # JSON list of {type, amount, reference, payment_id, voided, reversal}
    tenders = peewee.TextField(default="[]")
    # Restrictions: JSON list of the minimum ages (years) the customer was found old enough for.
    age_checked = peewee.TextField(default="[]")
    # Members: the store server's word on the member, JSON ("" without one).
    member_check = peewee.TextField(default="")


class Payment(BaseModel):
    """The payment log: each charge asked of the payment terminal, written before it
    is asked and updated with every answer, in a transaction of its own, so that an
    approval is on disk even when the sale it pays for cannot be saved. At start-up the
    open sale gets back the approved charges it is missing.

    ``status``: requested, approved, declined, reversing, reversed. Money in minor units.
    """

    id = peewee.TextField(primary_key=True)  # the lane's request id of the charge
    sale_id = peewee.TextField(index=True)
    tender = peewee.TextField()  # card | mobile
    amount = peewee.IntegerField()
    status = peewee.TextField()
    reference = peewee.TextField(default="")  # the terminal's reference of the charge
    reversal = peewee.TextField(default="")  # ... and of its reversal
    requested_at = peewee.TextField()
    updated_at = peewee.TextField()


class OpenLine(BaseModel):
    """A line of the open sale, written as it is added, updated when voided."""

    sale_id = peewee.TextField()
    no = peewee.IntegerField()
    sku = peewee.TextField()
    code = peewee.TextField()
    name = peewee.TextField()
    unit = peewee.TextField()
    qty = peewee.IntegerField()
    unit_price = peewee.IntegerField()
    amount = peewee.IntegerField()
    tax_rate = peewee.TextField()
    discount = peewee.IntegerField(default=0)
    voided = peewee.BooleanField(default=False)
    weight_text = peewee.TextField(default="")

    class Meta:
        primary_key = peewee.CompositeKey("sale_id", "no")


# Price override and discounts: kept beside the open line (a table of its own, so a lane
# database from before them needs no column added).
class OpenLineAdjustment(BaseModel):
    """A line of the open sale's price override and manual discounts, as JSON
    (``store.line_adjustments``); no row: the line has none."""

    sale_id = peewee.TextField()
    no = peewee.IntegerField()
    record = peewee.TextField()

    class Meta:
        primary_key = peewee.CompositeKey("sale_id", "no")


class Transaction(BaseModel):
    """A finished transaction (sale or cancelled sale)."""

    sale_id = peewee.TextField(primary_key=True)
    receipt_no = peewee.IntegerField(unique=True)
    kind = peewee.TextField()
    opened_at = peewee.TextField()
    closed_at = peewee.TextField(index=True)
    cashier = peewee.TextField()
    member = peewee.TextField(null=True)
    currency = peewee.TextField()
    total = peewee.IntegerField()
    tax = peewee.IntegerField()
    rounding = peewee.IntegerField()
    change = peewee.IntegerField()
    journal_hash = peewee.TextField()


class TransactionLine(BaseModel):
    sale_id = peewee.TextField(index=True)
    no = peewee.IntegerField()
    sku = peewee.TextField()
    code = peewee.TextField()
    name = peewee.TextField()
    unit = peewee.TextField()
    qty = peewee.IntegerField()
    unit_price = peewee.IntegerField()
    amount = peewee.IntegerField()
    tax_rate = peewee.TextField()
    discount = peewee.IntegerField()
    voided = peewee.BooleanField()
    weight_text = peewee.TextField(default="")

    class Meta:
        primary_key = peewee.CompositeKey("sale_id", "no")


class TransactionTender(BaseModel):
    """The tenders that count (voided ones are in the journal, the sale message and the
    payment log)."""

    sale_id = peewee.TextField(index=True)
    no = peewee.IntegerField()
    type = peewee.TextField()
    amount = peewee.IntegerField()
    reference = peewee.TextField(default="")

    class Meta:
        primary_key = peewee.CompositeKey("sale_id", "no")


class JournalEntry(BaseModel):
    """The hash chain: ``hash`` = SHA-256(prev_hash + canonical JSON of ``record``)."""

    no = peewee.AutoField()
    sale_id = peewee.TextField(unique=True)
    prev_hash = peewee.TextField()
    hash = peewee.TextField(unique=True)
    record = peewee.TextField()


class OutboxMessage(BaseModel):
    """One uplink MQTT message, kept until the store server's ``ack`` covers its seq.

    ``seq`` is the lane's gapless counter, assigned in the same transaction that
    commits the record the message describes.
    """

    seq = peewee.IntegerField(primary_key=True)
    topic = peewee.TextField()
    payload = peewee.BlobField()
    created_at = peewee.TextField()
    acked_at = peewee.TextField(null=True, index=True)


class PrintJob(BaseModel):
    """A receipt waiting for the printer (the sale is committed; only the paper is owed).

    ``receipt`` is the receipt as JSON; ``reprint`` is set when part of it may
    already be on paper (a fault mid-receipt, or a power cut while printing), so
    that the next attempt is marked as a reprint.
    """

    id = peewee.AutoField()
    number = peewee.IntegerField()
    receipt = peewee.TextField()
    created_at = peewee.TextField()
    reprint = peewee.BooleanField(default=False)
    attempts = peewee.IntegerField(default=0)


# --- suspend and resume ------------------------------------------------------------


class ParkedSale(BaseModel):
    """A sale parked with ``SUSPEND`` until ``RESUME`` (store/suspended.py): written in
    the transaction that removes it from ``OpenSale``, so it is one or the other.

    ``no`` is the suspend number on the slip; ``sale`` the whole sale as JSON (header,
    lines; no tenders: a sale with one is never parked). Money in minor units.
    """

    no = peewee.IntegerField(primary_key=True)
    sale_id = peewee.TextField(unique=True)
    cashier = peewee.TextField()  # who parked it
    parked_at = peewee.TextField()
    sale = peewee.TextField()


# --- training mode, cash movements, reports ----------------------------------------------


class CashMovement(BaseModel):
    """A paid-in (``kind`` in) or paid-out (out) outside a sale; ``amount`` in minor
    units, always positive. Committed before the drawer opens."""

    id = peewee.TextField(primary_key=True)
    kind = peewee.TextField()
    amount = peewee.IntegerField()
    reason = peewee.TextField()
    cashier = peewee.TextField()
    supervisor = peewee.TextField()
    at = peewee.TextField(index=True)


class TrainingSale(BaseModel):
    """A sale made in training mode: kept apart from ``Transaction`` (no real receipt
    number, no journal entry, never in a report); ``record`` is its sale body as sent."""

    sale_id = peewee.TextField(primary_key=True)
    training_no = peewee.IntegerField(unique=True)
    closed_at = peewee.TextField()
    record = peewee.TextField()


class UplinkMark(BaseModel):
    """Each uplink message's seq, time and kind (``sale``, ``stock``, ``training_sale``
    or the event's type), written with it: the outbox forgets acknowledged messages,
    and a day's report must still say which seqs it covers and count its no-sales."""

    seq = peewee.IntegerField(primary_key=True)
    at = peewee.TextField(index=True)
    kind = peewee.TextField()


class ZReport(BaseModel):
    """A closed business day: its report as published (``details``, JSON), numbered."""

    z_no = peewee.IntegerField(primary_key=True)
    business_date = peewee.TextField(unique=True)
    closed_at = peewee.TextField()
    cashier = peewee.TextField()
    details = peewee.TextField()


# The catalog lives in a database file of its own: applying a 100,000-item
# snapshot then never holds the write lock the lane needs to save a scan.
CATALOG_MODELS: list[type[BaseModel]] = [
    Meta,
    CatalogItem,
    ItemCode,
    CatalogStagePart,
    CatalogStageItem,
    CatalogStageCode,
    CatalogStageRemoved,
]


# Promotions: the catalog's promotions, written with its items in one transaction (the
# loyalty rule is the catalog Meta's ``catalog.loyalty``).
class CatalogPromotion(BaseModel):
    """A promotion of the catalog (``store.catalog/1`` ``promotions``): ``body`` is the
    object as the lane checked it (``store.promotions_doc.promotion_json``)."""

    id = peewee.TextField(primary_key=True)
    type = peewee.TextField()
    body = peewee.TextField()  # JSON


CATALOG_MODELS.append(CatalogPromotion)


# Returns: a table of its own, so that the line tables (and older databases) stay as
# they are.
class ReturnLine(BaseModel):
    """A return line's link to the sold line it gives back (``return_of``): written with
    the open sale's line, kept with the finished transaction's."""

    sale_id = peewee.TextField()
    no = peewee.IntegerField()
    of_lane = peewee.TextField()
    of_receipt = peewee.IntegerField()
    of_line = peewee.IntegerField()

    class Meta:
        primary_key = peewee.CompositeKey("sale_id", "no")
        indexes = ((("of_receipt", "of_line"), False),)


# Tables of earlier versions, dropped when a database is opened.
RETIRED_CATALOG_TABLES = ("catalogpart",)

LANE_MODELS: list[type[BaseModel]] = [
    Meta,
    CashierAccount,
    OpenSale,
    OpenLine,
    Transaction,
    TransactionLine,
    TransactionTender,
    JournalEntry,
    OutboxMessage,
    PrintJob,
    Payment,
    PinFailure,  # roles and approvals
    ParkedSale,  # suspend and resume
    CashMovement,  # training mode, cash movements, reports
    TrainingSale,
    UplinkMark,
    ZReport,
    OpenLineAdjustment,  # price override and discounts
    ReturnLine,  # returns
]
