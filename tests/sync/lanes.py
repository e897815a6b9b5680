"""Lanes and store servers for the fault tests, and the books that prove exactly-once.

- ``Cashier`` rings up realistic sales on a lane database quickly: the pure core
  (``tests.unit.till.Till``) runs each basket and ``SalesStore`` commits its durable
  effects, so the outbox holds real ``lane.sale/1``, ``lane.stock/1`` and
  ``lane.event/1`` messages with gapless seqs.
- ``InProcessLane`` is a lane database with its sync service in this process;
  ``LaneDaemon`` is the real daemon (``python -m firmware_app run``) as a child
  process, with devices that are absent, for cases that kill the lane.
- ``StoreServerProcess`` is ``python -m hw_sim.store_server`` as a child process,
  for cases that kill the store server.
- ``lane_book`` and ``store_book`` read what each side recorded, from its own SQLite
  file; ``assert_exactly_once`` compares them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import peewee

from firmware_app.config import MqttConfig
from firmware_app.ids import uuid7
from firmware_app.lane.effects import DURABLE, CommitSale
from firmware_app.store.db import models_of, open_database
from firmware_app.store.journal import open_readonly
from firmware_app.store.outbox import NEXT_SEQ, Outbox
from firmware_app.store.sales import SalesStore
from firmware_app.sync.contract import LaneUplink, Topics
from firmware_app.sync.service import SyncService
from hw_sim.broker import ChildProcess
from tests.conftest import LaneMessages
from tests.unit.till import CST, Till
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
STORE = "S001"

# Quick to recover: the fault tests wait for resends and reconnects, not for defaults.
FAST_MQTT: dict[str, Any] = {
    "keepalive_s": 5,
    "ack_timeout_s": 1.0,
    "max_inflight": 20,
    "reconnect_min_s": 0.05,
    "reconnect_max_s": 0.5,
}


def _ean13(first12: str) -> str:
    """``first12`` with its EAN-13 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


WEIGHT_LABEL = _ean13("210000100532")  # apples (PLU 1), 532 g
PRICE_LABEL = _ean13("200000100799")  # apples (PLU 1) for 7.99: 624 g at 12.80/kg

# What cashiers ring up, in turn: counted and weighed items, labels, cash, card and
# mobile, a voided line (an audit event too) and a cancelled sale (no stock moves).
BASKETS: tuple[tuple[str, ...], ...] = (
    ("scan 6954767410388", "key 1 0 CASH"),
    ("key 3 QTY", "scan 6954767410388", "scan 96385074", "key CARD", "terminal approve"),
    ("scale 0.532", "key 1 PLU", "key CASH", "scale 0"),  # the platter is emptied after
    (f"scan {WEIGHT_LABEL}", "key MOBILE", "terminal approve"),
    (f"scan {PRICE_LABEL}", "key 1 0 CASH"),
    ("scan 6954767410388", "scan 96385074", "key VOID", "key 2 0 CASH"),
    ("scan 96385074", "key CANCEL", "key 9 0 0 1 ENTER 9 9 9 9 ENTER"),
)


class Cashier:
    """Rings up baskets on a lane database as the lane loop would commit them.

    Each basket's durable effects go to ``SalesStore.apply`` in one transaction
    (the loop commits per event; per basket is the same data, faster). Sales are
    dated from half an hour ago, 5 s apart.
    """

    def __init__(self, db: peewee.SqliteDatabase, *, lane: str, store: str = STORE) -> None:
        self.till = Till(now=datetime.now(CST) - timedelta(minutes=30))
        self.till.ports = replace(self.till.ports, new_id=uuid7)
        self.sales = SalesStore(db, messages=LaneUplink(Topics("pos", store, lane)))
        # Receipt numbers go on from what the database holds, as after a lane restart.
        self.till.state = replace(self.till.state, next_receipt_no=self.sales.next_receipt_no())
        self.rung_up = 0

    def ring_up(self, count: int) -> None:
        """Commit ``count`` more sales (after a sign-on, the first time)."""
        if self.till.state.cashier is None:
            self._commit("signon")
        for _ in range(count):
            basket = BASKETS[self.rung_up % len(BASKETS)]
            commits = self._commit("wait 5", *basket)
            assert commits == 1, f"{basket} did not finish a sale: {self.till.message}"
            self.rung_up += 1

    def _commit(self, *steps: str) -> int:
        """Run the steps, commit their durable effects; returns how many sales finished."""
        before = len(self.till.all_effects)
        self.till.do(*steps)
        durable = [e for e in self.till.all_effects[before:] if isinstance(e, DURABLE)]
        if durable:
            self.sales.apply(durable)
        return sum(isinstance(e, CommitSale) for e in durable)


def fill_outbox(
    db: peewee.SqliteDatabase,
    rows: int,
    *,
    created_at: datetime,
    lane: str = "01",
    store: str = STORE,
) -> None:
    """``rows`` more outbox rows (a sale and its stock message, in turn) in one
    transaction, with contract-shaped payloads: a backlog made in a fraction of a second."""
    messages, topics = LaneMessages(store, lane), Topics("pos", store, lane)
    m = models_of(db)
    first = Outbox(db).stats().next_seq
    created = created_at.isoformat(timespec="milliseconds")
    batch: list[dict[str, Any]] = []
    with db.atomic():
        for seq in range(first, first + rows):
            body = messages.sale(seq) if seq % 2 else messages.stock(seq)
            payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            topic = topics.sales if seq % 2 else topics.stock
            batch.append({"seq": seq, "topic": topic, "payload": payload, "created_at": created})
            if len(batch) == 500 or seq == first + rows - 1:
                m.OutboxMessage.insert_many(batch).execute()
                batch.clear()
        m.Meta.insert(key=NEXT_SEQ, value=str(first + rows)).on_conflict_replace().execute()


def ring_up(data_dir: Path, lane: str, count: int) -> None:
    """Commit ``count`` sales to the lane database in ``data_dir`` (no lane running)."""
    db = open_database(data_dir / "lane.db")
    try:
        Cashier(db, lane=lane).ring_up(count)
    finally:
        db.close()


# --- the books ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Book:
    """One lane's sales as one side recorded them."""

    seqs: list[int]  # uplink messages, in seq order
    sales: Counter[str]  # sale_id -> how many times recorded
    hashes: dict[str, str]  # sale_id -> journal_hash
    stock: dict[str, Decimal]  # sku -> summed stock delta (zero sums left out)
    acked_upto: int = 0  # the store's ack mark (store side only)
    pending: int = 0  # unacknowledged outbox rows (lane side only)


def _read_only(path: Path) -> closing[sqlite3.Connection]:
    """``path`` read-only (``journal.open_readonly``), closed when its ``with`` ends."""
    return closing(open_readonly(path))


def _nonzero(levels: dict[str, Decimal]) -> dict[str, Decimal]:
    return {sku: qty for sku, qty in levels.items() if qty != 0}


def lane_book(data_dir: Path) -> Book:
    """What the lane committed: its ``transaction`` table, its lines, its outbox."""
    with _read_only(data_dir / "lane.db") as db:
        sales = db.execute('SELECT sale_id, journal_hash FROM "transaction"').fetchall()
        # Stock moves with sales and returns (a returned line's qty is below zero), not
        # with cancelled sales, no-sales or the like (sale.finish's deltas).
        lines = db.execute(
            'SELECT l.sku, l.qty FROM transactionline l JOIN "transaction" t '
            "ON t.sale_id = l.sale_id WHERE NOT l.voided AND t.kind IN ('sale', 'return')"
        ).fetchall()
        seqs = [s for (s,) in db.execute("SELECT seq FROM outboxmessage ORDER BY seq")]
        pending = db.execute(
            "SELECT count(*) FROM outboxmessage WHERE acked_at IS NULL"
        ).fetchone()[0]
    stock: dict[str, Decimal] = {}
    for sku, qty in lines:  # qty: thousandths of a piece or a kilogram
        stock[sku] = stock.get(sku, Decimal(0)) - Decimal(qty) / 1000
    return Book(
        seqs=seqs,
        sales=Counter(sale_id for sale_id, _ in sales),
        hashes=dict(sales),
        stock=_nonzero(stock),
        pending=int(pending),
    )


def store_book(db_path: Path, lane: str, store: str = STORE) -> Book:
    """What the store server holds for one lane: messages, ack mark, stock levels."""
    with _read_only(db_path) as db:
        rows = db.execute(
            "SELECT seq, schema, body FROM message WHERE store = ? AND lane = ? ORDER BY seq",
            (store, lane),
        ).fetchall()
        mark = db.execute(
            "SELECT acked_upto FROM lane WHERE store = ? AND lane = ?", (store, lane)
        ).fetchone()
        levels = db.execute("SELECT sku, qty FROM stock WHERE store = ?", (store,)).fetchall()
    bodies = [json.loads(body) for _, schema, body in rows if schema == "lane.sale/1"]
    return Book(
        seqs=[seq for seq, _, _ in rows],
        sales=Counter(b["sale_id"] for b in bodies),
        hashes={b["sale_id"]: b["journal_hash"] for b in bodies},
        stock=_nonzero({sku: Decimal(qty) for sku, qty in levels}),
        acked_upto=int(mark[0]) if mark else 0,
    )


def stored(db_path: Path, lane: str, store: str = STORE) -> int:
    """How many of the lane's messages the store server holds (0 before its tables exist)."""
    try:
        with _read_only(db_path) as db:
            (n,) = db.execute(
                "SELECT count(*) FROM message WHERE store = ? AND lane = ?", (store, lane)
            ).fetchone()
    except sqlite3.OperationalError:  # no file or no table yet
        return 0
    return int(n)


def drained(data_dir: Path, store_db: Path, lane: str, store: str = STORE) -> bool:
    """Every outbox row of the lane acknowledged, and the store's mark at its last seq.

    Cheap enough to poll: two counts and one row.
    """
    try:
        with _read_only(data_dir / "lane.db") as db:
            pending, last = db.execute(
                "SELECT total(acked_at IS NULL), max(seq) FROM outboxmessage"
            ).fetchone()
        with _read_only(store_db) as db:
            mark = db.execute(
                "SELECT acked_upto FROM lane WHERE store = ? AND lane = ?", (store, lane)
            ).fetchone()
    except sqlite3.OperationalError:  # a file or a table not made yet
        return False
    return pending == 0 and last is not None and mark is not None and mark[0] == last


def assert_exactly_once(data_dir: Path, store_db: Path, lane: str) -> Book:
    """Every message of the lane stored once, every sale once, stock equal to the lane's."""
    lane_side = lane_book(data_dir)
    store_side = store_book(store_db, lane)
    assert lane_side.seqs == list(range(1, len(lane_side.seqs) + 1)), "the lane's seqs have gaps"
    assert store_side.seqs == lane_side.seqs
    assert lane_side.pending == 0
    assert store_side.acked_upto == lane_side.seqs[-1]
    assert set(store_side.sales.values()) == {1}, "a sale stored under two seqs"
    assert store_side.sales == lane_side.sales
    assert store_side.hashes == lane_side.hashes
    assert store_side.stock == lane_side.stock
    return lane_side


# --- lanes -------------------------------------------------------------------------------


def _status() -> dict[str, Any]:
    return {"version": "0.1.0", "catalog_version": 1, "devices": {"scanner": "ok"}}


class InProcessLane:
    """A lane database and its sync service in this process.

    ``ring_up`` commits sales and wakes the sync service, as the lane loop does.
    """

    def __init__(self, data_dir: Path, url: str, *, lane: str, **mqtt: Any) -> None:
        self.data_dir = data_dir
        self.db = open_database(data_dir / "lane.db")
        self.cashier = Cashier(self.db, lane=lane)
        config = MqttConfig(url=url, **{**FAST_MQTT, **mqtt})
        self.sync = SyncService(
            config,
            store_id=STORE,
            lane_id=lane,
            outbox=Outbox(self.db),
            status=_status,
            on_downlink=lambda topic, payload: None,
        )

    def start(self) -> InProcessLane:
        self.sync.start()
        return self

    def ring_up(self, count: int) -> None:
        self.cashier.ring_up(count)
        self.sync.wake()

    def close(self) -> None:
        self.sync.close()
        self.db.close()


def lane_config(data_dir: Path, url: str, *, lane: str, **mqtt: Any) -> Path:
    """A daemon config whose devices are absent (the lane runs and reports them missing)."""
    values = {"url": url, **FAST_MQTT, **mqtt}
    mqtt_lines = "\n".join(f"{key} = {_toml(value)}" for key, value in values.items())
    path = data_dir / "lane.toml"
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""[lane]
store = "{STORE}"
lane = "{lane}"
data_dir = "{data_dir}"
[scanner]
path = "{data_dir / "no-scanner"}"
[keypad]
path = "{data_dir / "no-keypad"}"
[scale]
enabled = false
[printer]
port = "{data_dir / "no-printer"}"
[drawer]
enabled = false
[mqtt]
{mqtt_lines}
""",
        encoding="utf-8",
    )
    return path


def _toml(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


class Child(ChildProcess):
    """A child process with its output in a log file; signalled by its own pid only."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args = args
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Child:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        return self

    def _log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self._log_text().splitlines()[-lines:])


class LaneDaemon(Child):
    """``python -m firmware_app run --config FILE``."""

    def __init__(self, config: Path) -> None:
        super().__init__(
            [sys.executable, "-m", "firmware_app", "run", "--config", str(config)],
            config.parent / "daemon.log",
        )


class StoreServerProcess(Child):
    """``python -m hw_sim.store_server``; ``start`` returns once it is subscribed.

    ``options`` are more command-line options (``--username``, ``--password-file``…).
    """

    def __init__(self, url: str, db: Path, *options: str) -> None:
        super().__init__(
            [sys.executable, "-m", "hw_sim.store_server", "--broker", url, "--db", str(db),
             *options],
            db.parent / "store-server.log",
        )  # fmt: skip
        self.starts = 0

    def start(self) -> StoreServerProcess:
        self.starts += 1
        super().start()
        wait_until(
            lambda: self._log_text().count("store server listening") >= self.starts,
            "the store server to subscribe",
            timeout=10,
        )
        return self
