"""The lane ⇄ store server MQTT contract, version 1: topics, message bodies, encoding,
parsers and (through ``validation``) the schemas.

See docs/mqtt.md (spec/mqtt-contract.md). Everything that crosses the network
is built or parsed here, and nowhere else: the store writes outbox rows through
``LaneUplink`` (its ``store.ports.UplinkMessages``), the sync thread sends and
receives typed values. Money stays integer minor units, quantities become
decimal strings, tax rates percent strings, timestamps RFC 3339 with offset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from firmware_app.config import Config
from firmware_app.lane.adjustments import percent_text
from firmware_app.lane.effects import AuditEvent
from firmware_app.lane.money import format_qty, rate_text
from firmware_app.lane.sale import FinishedSale, Line, Tender
from firmware_app.lane.timestamps import timestamp
from firmware_app.store.outbox import OutboxStats
from firmware_app.sync.errors import ContractError
from firmware_app.sync.validation import SCHEMA_NAMES, load_schema, validate

__all__ = [
    "ACK",
    "MAX_INT",
    "SCHEMA_NAMES",
    "UPLINK_SCHEMAS",
    "ContractError",
    "LaneUplink",
    "Topics",
    "UplinkTopic",
    "ack_message",
    "catalog_request_message",
    "decode",
    "encode",
    "event_message",
    "load_schema",
    "parse_ack",
    "parse_uplink_topic",
    "sale_body",
    "sale_message",
    "sale_payload",
    "status_message",
    "stock_message",
    "timestamp",
    "validate",
]

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
ACK = "store.ack/1"
STATUS = "lane.status/1"
CATALOG_REQUEST = "lane.catalog-request/1"
UPLINK_SCHEMAS: Mapping[str, str] = {
    "sales": "lane.sale/1",
    "stock": "lane.stock/1",
    "events": "lane.event/1",
}
STATES = ("online", "offline")
# The largest integer every JSON reader holds exactly (a double's 53 bits): every
# integer field's maximum in the schemas. Far below SQLite's 2**63 - 1, so a number
# that passed the contract never overflows a column, and money sums stay exact.
MAX_INT = 2**53 - 1
MAX_ACK_BYTES = 4096  # an ack is about 60 bytes; anything far bigger is not one
MAX_PAYLOAD_BYTES = 64 * 1024 * 1024  # a 100,000-item catalog snapshot is about 20 MB


def _check_id(what: str, value: str) -> str:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise ContractError(f"{what}: {value!r} does not match [A-Za-z0-9_-]{{1,32}}")
    return value


def _check_root(root: str) -> str:
    parts = root.split("/") if isinstance(root, str) else [""]
    if not all(parts) or any(c in root for c in "+#\0"):
        raise ContractError(f"topic_root: {root!r} is not a plain topic prefix")
    return root


@dataclass(frozen=True)
class Topics:
    """Every topic one lane uses, e.g. ``Topics("pos", "S001", "01").sales``."""

    root: str
    store: str
    lane: str

    def __post_init__(self) -> None:
        _check_root(self.root)
        _check_id("store", self.store)
        _check_id("lane", self.lane)

    @property
    def lane_prefix(self) -> str:
        return f"{self.root}/{self.store}/lanes/{self.lane}"

    def uplink(self, kind: str) -> str:
        """The topic of an outbox message: ``kind`` is ``sales``, ``stock`` or ``events``."""
        if kind not in UPLINK_SCHEMAS:
            kinds = ", ".join(UPLINK_SCHEMAS)
            raise ContractError(f"uplink kind: expected one of {kinds}, got {kind!r}")
        return f"{self.lane_prefix}/{kind}"

    @property
    def sales(self) -> str:
        return self.uplink("sales")

    @property
    def stock(self) -> str:
        return self.uplink("stock")

    @property
    def events(self) -> str:
        return self.uplink("events")

    @property
    def status(self) -> str:
        """Retained ``lane.status/1``; also the will."""
        return f"{self.lane_prefix}/status"

    @property
    def catalog_request(self) -> str:
        return f"{self.lane_prefix}/catalog/request"

    @property
    def ack(self) -> str:
        return f"{self.lane_prefix}/ack"

    @property
    def store_catalog(self) -> str:
        """Catalog changes for every lane of the store."""
        return f"{self.root}/{self.store}/catalog"

    @property
    def lane_catalog(self) -> str:
        """Catalog documents for this lane only (answers to a catalog request)."""
        return f"{self.lane_prefix}/catalog"

    @property
    def cmd(self) -> str:
        return f"{self.lane_prefix}/cmd"

    # Members: the lane's live question about a member number, and the store's answer.
    @property
    def member_request(self) -> str:
        return f"{self.lane_prefix}/member/request"

    @property
    def member(self) -> str:
        return f"{self.lane_prefix}/member"

    @property
    def downlink(self) -> tuple[str, ...]:
        """What the lane subscribes to."""
        return (self.ack, self.store_catalog, self.lane_catalog, self.cmd, self.member)


@dataclass(frozen=True)
class UplinkTopic:
    """A parsed ``{root}/{store}/lanes/{lane}/{kind}`` topic."""

    store: str
    lane: str
    kind: str

    @property
    def schema(self) -> str:
        return UPLINK_SCHEMAS[self.kind]


def parse_uplink_topic(topic: str, root: str = "pos") -> UplinkTopic:
    """Split a sales/stock/events topic; raises ``ContractError`` on any other topic."""
    prefix = _check_root(root) + "/"
    parts = topic[len(prefix) :].split("/") if topic.startswith(prefix) else []
    if len(parts) != 4 or parts[1] != "lanes" or parts[3] not in UPLINK_SCHEMAS:
        raise ContractError(f"topic: {topic[:200]!r} is not an uplink topic under {root!r}")
    return UplinkTopic(_check_id("store", parts[0]), _check_id("lane", parts[2]), parts[3])


def status_message(
    state: str,
    *,
    at: datetime,
    version: str,
    catalog_version: int | None,
    outbox: OutboxStats,
    devices: Mapping[str, str],
    connected_at: datetime | None = None,
) -> dict[str, Any]:
    """A ``lane.status/1`` message.

    MQTT orders messages only within one connection, so a will can arrive after
    a later ``online``; readers keep the newest. ``connected_at`` names the
    connection the status belongs to: the will carries the ``connected_at`` of
    its connection, so a reader keeps the newest ``connected_at`` and, within
    one connection, the newest ``at`` (an offline will ends it).
    """
    if state not in STATES:
        raise ContractError(f"state: expected one of {STATES}, got {state!r}")
    message: dict[str, Any] = {"schema": STATUS, "at": timestamp(at), "state": state}
    if connected_at is not None:
        message["connected_at"] = timestamp(connected_at)
    message.update(
        version=version,
        catalog_version=catalog_version,
        outbox={"pending": outbox.pending, "oldest_at": outbox.oldest_at},
        devices={str(k): str(v) for k, v in devices.items()},
    )
    return message


def catalog_request_message(
    have: int | None, *, at: datetime, store: str, lane: str
) -> dict[str, Any]:
    """``lane.catalog-request/1``: ``have`` is the lane's catalog version (None: none yet)."""
    return {
        "schema": CATALOG_REQUEST,
        "at": timestamp(at),
        "store": store,
        "lane": lane,
        "have": have,
    }


def ack_message(upto: int, *, at: datetime) -> dict[str, Any]:
    """``store.ack/1`` as a store server sends it."""
    return {"schema": ACK, "at": timestamp(at), "upto": upto}


def encode(message: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, Chinese text kept as is: the bytes of
    ``json.dumps(message, ensure_ascii=False, separators=(",", ":"))``, written by
    orjson (faster, on every commit) or, for what it cannot write, by ``json``."""
    try:
        return orjson.dumps(message)
    except orjson.JSONEncodeError:
        return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode(payload: bytes, *, max_bytes: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    """Parse one message body into a dict; ``ContractError`` for anything else."""
    if len(payload) > max_bytes:
        raise ContractError(f"message: {len(payload)} bytes is over the limit of {max_bytes}")
    try:
        message = json.loads(payload.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ContractError(f"message: not JSON: {str(e)[:200]}") from e
    if not isinstance(message, dict):
        raise ContractError("message: expected a JSON object")
    return message


def parse_ack(payload: bytes) -> int:
    """The ``upto`` of a ``store.ack/1`` payload; ``ContractError`` for anything else."""
    message = decode(payload, max_bytes=MAX_ACK_BYTES)
    if message.get("schema") != ACK:
        raise ContractError(f"schema: expected {ACK!r}, got {str(message.get('schema'))[:64]!r}")
    validate(message)
    upto: int = message["upto"]
    if not 0 <= upto <= MAX_INT:  # the schema says so too: checked here whatever it says
        raise ContractError(f"upto: {str(upto)[:32]} is not from 0 to {MAX_INT}")
    return upto


# --- uplink bodies ------------------------------------------------------------------------


def _line(line: Line) -> dict[str, Any]:
    body: dict[str, Any] = {
        "line": line.no,
        "sku": line.sku,
        "code": line.code,
        "name": line.name,
        "unit": line.unit.value,
        "qty": format_qty(line.qty),
        "unit_price": line.unit_price,
        "amount": line.amount,
        "discount": line.discount,
        "tax_rate": rate_text(line.tax_rate),
        "voided": line.voided,
        # Promotions: what each promotion took off this line.
        "promotions": [{"id": p.id, "discount": p.discount} for p in line.promotions],
    }
    # Price override and discounts: only on lines that have them.
    if line.override is not None:
        o = line.override
        body["override"] = {"from": o.was, "to": o.now, "reason": o.reason, "by": o.by}
    if line.discounts:
        body["manual_discounts"] = [
            {
                "scope": d.scope.value,
                "percent": percent_text(d.percent),
                "amount": d.amount,
                **({"by": d.by} if d.by else {}),
            }
            for d in line.discounts
        ]
    if line.is_return:  # returns: what it gives back (null: a return without receipt)
        ref = line.return_of
        body["return_of"] = (
            None
            if ref is None
            else {"lane": ref.lane, "receipt_no": ref.receipt_no, "line": ref.line}
        )
    return body


def _tender(tender: Tender) -> dict[str, Any]:
    """A tender; a voided one (cash handed back, a charge reversed) carries
    ``"voided": true`` and, when reversed on the terminal, the reversal's reference."""
    body: dict[str, Any] = {"type": tender.type.value, "amount": tender.amount}
    if tender.reference:
        body["reference"] = tender.reference
    if tender.voided:
        body["voided"] = True
        if tender.reversal:
            body["reversal"] = tender.reversal
    return body


def sale_body(record: FinishedSale, store: str, lane: str) -> dict[str, Any]:
    """The ``lane.sale/1`` body without its envelope (schema, at, seq) and hash: what the
    journal hashes and keeps, so the message and the journal can never differ."""
    body: dict[str, Any] = {
        "store": store,
        "lane": lane,
        "sale_id": record.sale_id,
        "receipt_no": record.receipt_no,
        "kind": record.kind.value,
        "opened_at": timestamp(record.opened_at),
        "closed_at": timestamp(record.closed_at),
        "cashier": record.cashier,
        "member": record.member,
        "currency": record.currency,
        "lines": [_line(line) for line in record.lines],
        "totals": {
            "gross": record.gross,
            "discount": record.discount,
            "rounding": record.rounding,
            "total": record.total,
            "tax": record.tax,
        },
        "taxes": [
            {"rate": rate_text(t.rate), "gross": t.gross, "tax": t.tax} for t in record.taxes
        ],
        "tenders": [_tender(t) for t in record.tenders],
        "change": record.change,
    }
    if record.training:  # only when true: real sales read exactly as before
        body["training"] = True
    if record.member is not None:  # members: verified or not, and the points
        body["member_verified"] = record.member_verified
        body["points"] = record.points
    return body


def sale_message(body: Mapping[str, Any], *, seq: int, journal_hash: str) -> dict[str, Any]:
    return {
        "schema": "lane.sale/1",
        "at": body["closed_at"],
        "seq": seq,
        **body,
        "journal_hash": journal_hash,
    }


def sale_payload(body_text: str, *, at: str, seq: int, journal_hash: str) -> bytes:
    """``sale_message`` encoded, around ``body_text``, the body as the journal keeps it
    (canonical JSON, ``store.journal.canonical``): a sale's body, its largest part, is
    encoded once, on the commit path, and the message says exactly what the journal
    hashed. Readers see the same object as ``sale_message`` builds (keys in another
    order, which JSON leaves free)."""
    if not (body_text.startswith("{") and body_text.endswith("}") and len(body_text) > 2):
        raise ContractError("sale body: expected a non-empty JSON object")
    head = f'{{"schema":"lane.sale/1","at":{json.dumps(at)},"seq":{int(seq)},'
    tail = f',"journal_hash":{json.dumps(journal_hash)}}}'
    return (head + body_text[1:-1] + tail).encode("utf-8")


def stock_message(record: FinishedSale, store: str, lane: str, *, seq: int) -> dict[str, Any]:
    return {
        "schema": "lane.stock/1",
        "at": timestamp(record.closed_at),
        "store": store,
        "lane": lane,
        "seq": seq,
        "sale_id": record.sale_id,
        "deltas": [
            {"sku": d.sku, "qty": format_qty(d.qty), "unit": d.unit.value} for d in record.deltas
        ],
    }


def event_message(event: AuditEvent, store: str, lane: str, *, seq: int) -> dict[str, Any]:
    return {
        "schema": "lane.event/1",
        "at": timestamp(event.at),
        "store": store,
        "lane": lane,
        "seq": seq,
        "event": event.type,
        "cashier": event.cashier,
        "sale_id": event.sale_id,
        "details": json.loads(event.data) if event.data else dict(event.details),
    }


class LaneUplink:
    """One lane's uplink messages as outbox rows: topics and encoded payloads.

    The store's ``UplinkMessages`` port: the store assigns each message its seq in
    the transaction that commits the record, and asks here for the bytes.
    """

    def __init__(self, topics: Topics) -> None:
        self.topics = topics

    @classmethod
    def of(cls, config: Config) -> LaneUplink:
        """The messages of the lane ``config`` describes."""
        return cls(Topics(config.mqtt.topic_root, config.store, config.lane))

    def topic(self, kind: str) -> str:
        return self.topics.uplink(kind)

    def sale_body(self, record: FinishedSale) -> dict[str, Any]:
        return sale_body(record, self.topics.store, self.topics.lane)

    def sale(self, body_text: str, *, at: str, seq: int, journal_hash: str) -> bytes:
        return sale_payload(body_text, at=at, seq=seq, journal_hash=journal_hash)

    def stock(self, record: FinishedSale, *, seq: int) -> bytes:
        return encode(stock_message(record, self.topics.store, self.topics.lane, seq=seq))

    def event(self, event: AuditEvent, *, seq: int) -> bytes:
        return encode(event_message(event, self.topics.store, self.topics.lane, seq=seq))
