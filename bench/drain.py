"""Benchmark: how fast a lane drains a backlog to the store server, against bare paho,
and how soon a new sale gets out while it does.

A lane that was offline for a day comes back with tens of thousands of unsent
messages. This fills a real lane database's outbox with 50,000 rows, the ones
``SalesStore`` commits with each sale (its ``lane.sale/1`` and its
``lane.stock/1``, built by ``firmware_app.sync.contract`` from sales closed by the
core's ``finish``), starts private mosquittos with the store broker's queue
and in-flight settings, and times three publishers:

1. a bare paho QoS 1 loop publishing the same payloads with the same bound on
   messages awaiting PUBACK (``max_inflight``) to topics nobody reads: the
   ceiling of publishing through this broker from Python;
2. the lane's sync service, from its start until every row is acknowledged, to
   a stand-in that acknowledges every 10 ms what has arrived (cumulatively, as
   the store server does after each group commit) and does nothing else (a
   store server that keeps up with anything): the lane's own speed, on the
   same backlog (a copy of the database);
3. the lane's sync service, on the whole backlog, to the simulated
   store server (``hw_sim.store_server``: it checks each message against the
   contract and commits what has arrived in one transaction, ``synchronous=FULL``,
   before the PUBACKs and one ``store.ack/1`` per lane): the whole way, paced
   by the simulated server's CPU, as its column shows (Python, one core).

Receivers run in processes of their own; the CPU seconds of each side during
each run are printed with it, to show which side sets the pace.

During the third run a new sale is committed every 2 s in a transaction of its
own (``SalesStore.apply``, as the lane loop commits a paid sale) and the sync
service is woken; a subscriber in another process notes when each one arrives
on the lane's sales topic. Commit → arrival is wall-clock time from the end of
the commit to the arrival (both processes read the same clock). A new sale
should be published within a second, backlog or not.

Run with ``python -m bench.drain`` (``--messages 2000`` for a quick look).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import multiprocessing
import random
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from firmware_app.config import MqttConfig
from firmware_app.ids import uuid7
from firmware_app.lane.catalog import Unit
from firmware_app.lane.effects import CommitSale
from firmware_app.lane.money import amount_of
from firmware_app.lane.sale import FinishedSale, Line, Sale, SaleKind, Tender, TenderType, finish
from firmware_app.store.db import open_database
from firmware_app.store.journal import GENESIS_HASH, canonical, link_hash
from firmware_app.store.outbox import Outbox
from firmware_app.store.sales import SalesStore
from firmware_app.sync.contract import (
    LaneUplink,
    Topics,
    ack_message,
    encode,
    parse_uplink_topic,
    validate,
)
from firmware_app.sync.service import SyncService
from hw_sim.broker import MosquittoBroker
from hw_sim.store_server import StoreServer

STORE = "S001"
CST = timezone(timedelta(hours=8))
# The store broker's settings that matter here (docs/mosquitto/mosquitto.conf).
ACKER_PERIOD_S = 0.01  # the acking stand-in acknowledges this often
BROKER_CONF = "max_queued_messages 20000\nmax_inflight_messages 100\n"
CASHIER = "1001"
LIVE_CASHIER = "1002"  # the live sales' cashier: how the subscriber tells them from the backlog
LIVE_MARK = f'"cashier":"{LIVE_CASHIER}"'.encode()
STALL_S = 60.0  # no acknowledgement for this long: the run has failed
CHILD_START_S = 20.0
BACKLOG_AGE = timedelta(days=1)

# (sku, code, name, unit, price per piece or per kg in fen, tax rate in percent)
ITEMS = (
    ("100234", "6954767410388", "可口可乐 330ml", Unit.EACH, 350, "13"),
    ("100235", "6901939621608", "雪碧 330ml", Unit.EACH, 330, "13"),
    ("200001", "1", "富士苹果", Unit.KG, 1280, "9"),
    ("200002", "2", "香蕉", Unit.KG, 590, "9"),
    ("300001", "6920152400012", "康师傅红烧牛肉面", Unit.EACH, 450, "13"),
    ("300002", "036000291452", "Oreo cookies 进口饼干", Unit.EACH, 1590, "13"),
    ("400001", "6901035603119", "青岛啤酒 500ml", Unit.EACH, 600, "13"),
    ("500001", "6903148091451", "洗洁精 1.29kg", Unit.EACH, 1290, "13"),
)


# --- sales as the lane makes them --------------------------------------------------------


def finished_sale(
    rng: random.Random, *, receipt_no: int, closed_at: datetime, cashier: str = CASHIER
) -> FinishedSale:
    """A paid cash sale of 1 to 6 lines (pieces and weighed goods), closed by the core's
    ``finish`` (taxes per rate, one stock delta per SKU)."""
    lines = []
    for no, (sku, code, name, unit, price, rate) in enumerate(
        rng.sample(ITEMS, rng.randint(1, 6)), start=1
    ):
        weighed = unit is Unit.KG
        qty = rng.randint(150, 2500) if weighed else 1000 * rng.randint(1, 4)  # thousandths
        lines.append(
            Line(
                no=no,
                sku=sku,
                code=code,
                name=name,
                unit=unit,
                qty=qty,
                unit_price=price,
                amount=amount_of(qty, price),
                tax_rate=Decimal(rate),
                weight_text=f"{qty / 1000:.3f} kg" if weighed else "",
            )
        )
    sale_id = uuid7(unix_ms=int(closed_at.timestamp() * 1000), rand=rng.randbytes(10))
    sale = Sale(
        id=sale_id, opened_at=closed_at - timedelta(seconds=35), cashier=cashier, lines=tuple(lines)
    )
    handed = -(-sale.total // 1000) * 1000  # the customer hands over the next 10 yuan
    sale = replace(sale, tenders=(Tender(TenderType.CASH, handed),))
    return finish(
        sale, kind=SaleKind.SALE, receipt_no=receipt_no, closed_at=closed_at, currency="CNY"
    )


def sales_store(db_path: Path, *, lane: str) -> SalesStore:
    """A real lane database and the lane loop's writer of it."""
    topics = Topics("pos", STORE, lane)
    return SalesStore(open_database(db_path), messages=LaneUplink(topics))


def fill_outbox(sales: SalesStore, messages_wanted: int, *, seed: int = 1) -> int:
    """Append the outbox rows ``SalesStore`` commits with each sale (its ``lane.sale/1``,
    journal hash chained, and its ``lane.stock/1``, built by ``sync.contract``)
    until ``messages_wanted`` rows wait; returns the number of rows.

    Only the outbox is filled, in one enclosing transaction: the sync service reads
    nothing else, and a day's sales through the whole of ``SalesStore.apply`` would take
    a minute to set up.
    """
    rng = random.Random(seed)
    outbox, messages = sales.outbox, sales.messages
    closed = datetime.now(CST) - BACKLOG_AGE
    prev = GENESIS_HASH
    with sales.db.atomic():
        for n in range(-(-messages_wanted // 2)):
            record = finished_sale(
                rng, receipt_no=n + 1, closed_at=closed + timedelta(seconds=3 * n)
            )
            body = messages.sale_body(record)
            text = canonical(body)
            prev = digest = link_hash(prev, text)
            outbox.append(
                messages.topic("sales"),
                lambda seq, text=text, at=body["closed_at"], digest=digest: messages.sale(
                    text, at=at, seq=seq, journal_hash=digest
                ),
                record.closed_at,
            )
            outbox.append(
                messages.topic("stock"),
                lambda seq, record=record: messages.stock(record, seq=seq),
                record.closed_at,
            )
    return outbox.stats().pending


def check_messages(outbox: Outbox, *, sample: int = 200) -> int:
    """A sample of the rows against the contract (the store server would refuse a bad one
    for good, and the drain would stall); returns their mean size in bytes."""
    rows = outbox.unacked(limit=sample)
    for row in rows:
        validate(json.loads(row.payload))
    return sum(len(r.payload) for r in rows) // max(1, len(rows))


# --- the other processes -----------------------------------------------------------------


Target = Callable[..., None]  # target(ready, stop, results, *args)


class Child:
    """``target(ready, stop, results, *args)`` in a process of its own (it would share our
    GIL else): it sets ``ready`` once it serves, returns when ``stop`` is set, and may put
    one result on ``results`` before it does, which ``result`` then holds."""

    def __init__(self, target: Target, *args: object) -> None:
        context = multiprocessing.get_context("spawn")
        self._ready, self._stop = context.Event(), context.Event()
        self._results: Any = context.Queue()
        self._process = context.Process(
            target=target, args=(self._ready, self._stop, self._results, *args), daemon=True
        )
        self.result: Any = None

    def __enter__(self) -> Child:
        self._process.start()
        if not self._ready.wait(CHILD_START_S):
            self._process.kill()
            raise RuntimeError(f"{self._process.name} did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        try:
            self.result = self._results.get(timeout=15)
        except Exception:  # queue.Empty, or a child that died
            self.result = None
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


def serve_store(ready: Any, stop: Any, results: Any, url: str, db_path: str) -> None:
    """The simulated store server; its result: messages received (duplicates included),
    rejected, and its CPU seconds while serving."""
    logging.basicConfig(level=logging.WARNING)
    with StoreServer(url, db_path) as server:
        cpu = time.process_time()
        ready.set()
        stop.wait()
        results.put(
            {
                "received": server.received,
                "rejected": server.rejected,
                "cpu_s": time.process_time() - cpu,
            }
        )


def ack_on_arrival(ready: Any, stop: Any, results: Any, url: str) -> None:
    """A store server that keeps up with anything: it neither checks nor stores, and
    acknowledges, every ``ACKER_PERIOD_S``, each lane's highest seq with none missing
    below (as the store server does after each group commit). What is left is the lane's
    own speed. Its result: its CPU seconds while serving."""
    host, port = url.removeprefix("mqtt://").split(":")
    waiting: dict[tuple[str, str], set[int]] = {}
    marks: dict[tuple[str, str], int] = {}
    sent: dict[tuple[str, str], int] = {}
    lock = threading.Lock()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-acker", protocol=MQTTProtocolVersion.MQTTv5
    )
    client.on_connect = lambda c, u, flags, reason, props: c.subscribe(
        [(f"pos/+/lanes/+/{kind}", 1) for kind in ("sales", "stock", "events")]
    )
    client.on_subscribe = lambda c, u, mid, codes, props: ready.set()

    def on_message(c: Any, u: Any, msg: mqtt.MQTTMessage) -> None:
        where = parse_uplink_topic(msg.topic)
        key = (where.store, where.lane)
        with lock:
            seqs = waiting.setdefault(key, set())
            seqs.add(json.loads(msg.payload)["seq"])
            mark = marks.get(key, 0)
            while mark + 1 in seqs:
                mark += 1
                seqs.discard(mark)
            marks[key] = mark

    client.on_message = on_message
    client.connect(host, int(port), 30)
    client.loop_start()
    cpu = time.process_time()
    while not stop.wait(ACKER_PERIOD_S):
        with lock:
            due = [(key, mark) for key, mark in marks.items() if mark > sent.get(key, 0)]
            sent.update(due)
        for key, mark in due:
            ack = encode(ack_message(mark, at=datetime.now().astimezone()))
            client.publish(Topics("pos", *key).ack, ack, qos=1)
    results.put({"cpu_s": time.process_time() - cpu})
    client.disconnect()
    client.loop_stop()


def watch_live_sales(ready: Any, stop: Any, results: Any, url: str, topic: str) -> None:
    """Subscribe to ``topic``; its result: {receipt_no: first arrival (time.time())} of the
    sales of ``LIVE_CASHIER``."""
    host, port = url.removeprefix("mqtt://").split(":")
    seen: dict[int, float] = {}
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-watch", protocol=MQTTProtocolVersion.MQTTv5
    )
    client.on_connect = lambda c, u, flags, reason, props: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda c, u, mid, codes, props: ready.set()

    def on_message(c: Any, u: Any, msg: mqtt.MQTTMessage) -> None:
        arrived = time.time()
        if LIVE_MARK in msg.payload:
            seen.setdefault(json.loads(msg.payload)["receipt_no"], arrived)

    client.on_message = on_message
    client.connect(host, int(port), 30)
    client.loop_start()
    stop.wait()
    client.disconnect()
    client.loop_stop()
    results.put(seen)


def broker(data_dir: Path) -> MosquittoBroker:
    return MosquittoBroker(data_dir=data_dir, extra_conf=BROKER_CONF, persistence=False)


# --- the publishers ----------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """``messages`` published and acknowledged in ``seconds``; ``cpu_s``: the publishing
    process's CPU seconds meanwhile (every thread)."""

    messages: int
    seconds: float
    cpu_s: float


@dataclass(frozen=True)
class LaneRun(Run):
    """A lane's drain: ``started_at`` (time.time()) and ``live``, {receipt_no: end of its
    commit (time.time())} of the sales committed during it."""

    started_at: float = 0.0
    live: dict[int, float] | None = None


def topics_of(sales: SalesStore) -> Topics:
    uplink = sales.messages
    assert isinstance(uplink, LaneUplink)
    return uplink.topics


def sync_service(sales: SalesStore, url: str, *, max_inflight: int) -> SyncService:
    config = MqttConfig(
        url=url,
        max_inflight=max_inflight,
        # The backlog is a day old on purpose: no warning about it.
        backlog_warning_min=2 * BACKLOG_AGE.total_seconds() / 60,
    )
    return SyncService(
        config,
        store_id=topics_of(sales).store,
        lane_id=topics_of(sales).lane,
        outbox=sales.outbox,
        status=lambda: {"version": "bench", "catalog_version": 1, "devices": {}},
        on_downlink=lambda topic, payload: None,
    )


def run_lane(
    sales: SalesStore, url: str, *, max_inflight: int, live_every_s: float | None = None
) -> LaneRun:
    """Start the sync service and wait until every outbox row is acknowledged; every
    ``live_every_s`` while the backlog drains, commit a new sale and wake the service."""
    outbox = sales.outbox
    backlog = outbox.stats().next_seq - 1
    rng = random.Random(2)
    live: dict[int, float] = {}
    service = sync_service(sales, url, max_inflight=max_inflight)
    started, started_at, cpu = time.perf_counter(), time.time(), time.process_time()
    next_live = started + (live_every_s or float("inf"))
    last_acked, last_progress = 0, started
    service.start()
    try:
        while True:
            time.sleep(0.1)
            now = time.perf_counter()
            stats = outbox.stats()
            if stats.pending == 0:
                return LaneRun(
                    stats.next_seq - 1,
                    now - started,
                    time.process_time() - cpu,
                    started_at=started_at,
                    live=live,
                )
            if stats.acked_upto != last_acked:
                last_acked, last_progress = stats.acked_upto, now
            elif now - last_progress > STALL_S:
                raise RuntimeError(
                    f"no acknowledgement for {STALL_S:.0f} s: {stats.pending} rows wait, "
                    f"acked up to {stats.acked_upto}"
                )
            if live_every_s and now >= next_live and stats.acked_upto < backlog:
                receipt_no = -(-backlog // 2) + len(live) + 1  # after the backlog's sales
                record = finished_sale(
                    rng, receipt_no=receipt_no, closed_at=datetime.now(CST), cashier=LIVE_CASHIER
                )
                sales.apply([CommitSale(record)])
                live[receipt_no] = time.time()
                service.wake()
                next_live += live_every_s
    finally:
        service.close()


def run_bare(payloads: list[tuple[str, bytes]], url: str, *, max_inflight: int) -> Run:
    """Publish every payload at QoS 1 until every PUBACK is in, ``max_inflight`` at most
    awaiting PUBACK, as a plain paho program would."""
    host, port = url.removeprefix("mqtt://").split(":")
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=MQTTProtocolVersion.MQTTv5
    )
    client.max_inflight_messages_set(max_inflight)
    slots = threading.Semaphore(max_inflight)
    done = threading.Event()
    acked = 0

    def on_publish(c: Any, u: Any, mid: int, reason: Any, props: Any) -> None:
        nonlocal acked
        acked += 1
        slots.release()
        if acked == len(payloads):
            done.set()

    client.on_publish = on_publish
    client.connect(host, int(port), 30)
    client.loop_start()
    try:
        started, cpu = time.perf_counter(), time.process_time()
        for topic, payload in payloads:
            if not slots.acquire(timeout=STALL_S):
                raise RuntimeError(f"no PUBACK for {STALL_S:.0f} s ({acked} so far)")
            client.publish("bare/" + topic, payload, qos=1)
        if not done.wait(STALL_S):
            raise RuntimeError(f"only {acked} of {len(payloads)} PUBACKs")
        return Run(len(payloads), time.perf_counter() - started, time.process_time() - cpu)
    finally:
        client.disconnect()
        client.loop_stop()


# --- the table ---------------------------------------------------------------------------


def print_table(
    *,
    size: int,
    max_inflight: int,
    bare: Run,
    to_acker: LaneRun,
    acker_cpu_s: float | None,
    to_store: LaneRun,
    store_server: dict[str, Any] | None,
    seen: dict[int, float],
) -> None:
    def rate(run: Run) -> float:
        return run.messages / run.seconds

    def cpu(seconds: float | None) -> str:
        return "–" if seconds is None else f"{seconds:.1f}"

    print(
        f"drain of {bare.messages:,} outbox rows (about {size} bytes each), "
        f"max_inflight {max_inflight}, {multiprocessing.cpu_count()} cores"
    )
    print(
        "| publisher → receiver                            | messages | seconds |  msg/s "
        "| CPU s publisher | CPU s receiver |"
    )
    print(
        "|-------------------------------------------------|----------|---------|--------"
        "|-----------------|----------------|"
    )
    server_cpu = store_server["cpu_s"] if store_server else None
    for name, run, receiver_cpu in (
        ("bare paho QoS 1 loop → nobody, every PUBACK", bare, None),
        ("lane drain → fast acker, every row acked", to_acker, acker_cpu_s),
        ("lane drain → store server, every row acked", to_store, server_cpu),
    ):
        print(
            f"| {name:<47} | {run.messages:>8,} | {run.seconds:>7.1f} | {rate(run):>6,.0f} "
            f"| {cpu(run.cpu_s):>15} | {cpu(receiver_cpu):>14} |"
        )
    for name, run in (
        ("lane / bare, fast acker (target ≥ 0.6)", to_acker),
        ("lane / bare, to the simulated store server", to_store),
    ):
        print(
            f"| {name:<47} | {'':>8} | {'':>7} | {rate(run) / rate(bare):>6.2f} "
            f"| {'':>15} | {'':>14} |"
        )
    if store_server is not None:
        print(
            f"store server: {store_server['received']:,} messages received (duplicates "
            f"included), {store_server['rejected']} rejected"
        )

    live = to_store.live or {}
    print()
    print(f"{len(live)} new sales committed during the drain: commit → on the sales topic")
    print("| receipt | committed after (s) | latency (ms) |")
    print("|---------|---------------------|--------------|")
    latencies = []
    for receipt_no, committed in sorted(live.items()):
        arrived = seen.get(receipt_no)
        if arrived is not None:
            latencies.append(arrived - committed)
        latency = "never seen" if arrived is None else f"{(arrived - committed) * 1000:,.0f}"
        print(f"| {receipt_no:>7} | {committed - to_store.started_at:>19.1f} | {latency:>12} |")
    if latencies:
        worst = max(latencies)
        met = worst <= 1.0 and len(latencies) == len(live)
        print(
            f"max {worst * 1000:,.0f} ms: a new sale published within 1 s while the backlog "
            f"drains: {'met' if met else 'NOT met'}"
        )


def measure(
    messages: int = 50_000, max_inflight: int | None = None, live_every: float = 2.0
) -> dict[str, Any]:
    """The three runs over a backlog of ``messages`` rows; the keyword arguments of
    ``print_table``."""
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        sales = sales_store(tmp / "lane.db", lane="01")
        rows = fill_outbox(sales, messages)
        size = check_messages(sales.outbox)
        payloads = [(r.topic, r.payload) for r in sales.outbox.unacked(limit=rows)]
        # The same backlog, in a database of its own (SQLite's backup: a consistent copy).
        with (
            contextlib.closing(sqlite3.connect(tmp / "lane.db")) as source,
            contextlib.closing(sqlite3.connect(tmp / "lane-copy.db")) as copy,
        ):
            source.backup(copy)
        head = sales_store(tmp / "lane-copy.db", lane="01")
        inflight = MqttConfig().max_inflight if max_inflight is None else max_inflight
        # Each lane run has a broker of its own: an ack left in one run's session must not
        # reach the next run's lane (same client id, same seqs).
        with (
            broker(tmp / "broker-acker") as mosquitto,
            Child(ack_on_arrival, mosquitto.url) as acker,
        ):
            to_acker = run_lane(head, mosquitto.url, max_inflight=inflight)
        with broker(tmp / "broker") as mosquitto:
            url = mosquitto.url
            bare = run_bare(payloads, url, max_inflight=inflight)
            with (
                Child(serve_store, url, str(tmp / "store.db")) as server,
                Child(watch_live_sales, url, Topics("pos", STORE, "01").sales) as watcher,
            ):
                to_store = run_lane(sales, url, max_inflight=inflight, live_every_s=live_every)
        sales.db.close()
        head.db.close()

    return {
        "size": size,
        "max_inflight": inflight,
        "bare": bare,
        "to_acker": to_acker,
        "acker_cpu_s": acker.result["cpu_s"] if acker.result else None,
        "to_store": to_store,
        "store_server": server.result,
        "seen": watcher.result or {},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--max-inflight", type=int, default=MqttConfig().max_inflight)
    parser.add_argument("--live-every", type=float, default=2.0, help="seconds between new sales")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print_table(**measure(args.messages, args.max_inflight, args.live_every))


if __name__ == "__main__":
    main()
