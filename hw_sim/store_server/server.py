"""The simulated store server on a broker: receive, check, commit in groups, acknowledge.

It subscribes to every lane's ``sales``, ``stock`` and ``events`` (QoS 1, a
persistent session of its own), checks each message against the contract and
hands it to the ledger, then answers each lane with ``store.ack/1`` for the
highest seq up to which it has everything.

Messages are checked in paho's callback and stored by a writer thread in
group commits: whatever has arrived meanwhile (up to ``BATCH`` messages) goes
into one SQLite transaction, then each message gets its PUBACK (manual acks:
the broker holds a message until it is committed, so a server that dies
half-way gets it again) and each lane one ``ack`` for its new contiguous mark.
One fsync and one ack per batch rather than per message is what lets a lane
drain a day's backlog at the broker's pace. A message the database cannot
store is refused alone (logged, counted in ``rejected``, PUBACKed for good, never
acked): one lane's bad message never holds up the others in its batch.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from firmware_app.sync.contract import (
    ContractError,
    Topics,
    UplinkTopic,
    ack_message,
    decode,
    encode,
    parse_uplink_topic,
    validate,
)
from hw_sim.store_server.errors import StoreServerError
from hw_sim.store_server.ledger import Incoming, StoreLedger
from hw_sim.store_server.link import START_TIMEOUT_S, BrokerLogin, broker_address, new_client
from hw_sim.store_server.members import Member, answer, parse_request
from hw_sim.store_server.recompute import PriceBook

log = logging.getLogger(__name__)

CLIENT_ID = "store-server-sim"
SESSION_EXPIRY_S = 7 * 24 * 3600
BATCH = 1000  # messages stored in one transaction at most

MessageHook = Callable[[str, dict[str, Any]], None]


def _local_now() -> datetime:
    return datetime.now().astimezone()


class StoreServer:
    """The simulated store server on a broker; ``start()`` returns once it is subscribed.

    ``on_message(topic, message)`` sees every valid uplink message received
    (duplicates too). ``drop_acks`` loses that many acks on purpose (to test
    the lane's resend after its ack timeout). ``login`` holds the username,
    password and CA file for a broker that asks for them.
    """

    def __init__(
        self,
        broker_url: str,
        db_path: str | Path,
        *,
        on_message: MessageHook | None = None,
        root: str = "pos",
        client_id: str = CLIENT_ID,
        clock: Callable[[], datetime] = _local_now,
        drop_acks: int = 0,
        login: BrokerLogin | None = None,
        members: Mapping[str, Member] | None = None,
        prices: PriceBook | None = None,
    ) -> None:
        self.host, self.port = broker_address(broker_url)
        self.url = broker_url
        self.login = login or BrokerLogin()
        self.root = root
        self.client_id = client_id
        self.on_message = on_message
        self.drop_acks = drop_acks
        # Members: who they are (None: no members file, no answers), questions answered.
        self.members = members
        self.member_answers = 0
        # Prices: the catalog the lanes were sent; each sale received is priced again from
        # it and what differs is kept (topic, seq, differences) and logged.
        self.prices = prices
        self.price_problems: list[tuple[str, int, list[str]]] = []
        self.sales_checked = 0
        self.received = 0  # valid messages, duplicates included
        self.rejected = 0
        self.acks_sent = 0
        self._clock = clock
        self._db_path = db_path
        self._ledger: StoreLedger | None = None
        self._client: mqtt.Client | None = None
        self._subscribed = threading.Event()
        self._closed = False
        self._incoming: queue.Queue[Incoming | None] = queue.Queue()
        self._writer: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> StoreServer:
        """Open the database, connect, subscribe; ``StoreServerError`` after 10 s without."""
        self._ledger = StoreLedger(self._db_path)
        client = new_client(self.url, self.login, self.client_id)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.manual_ack_set(True)  # PUBACK once committed (see _write)
        client.reconnect_delay_set(0.1, 1.0)  # type: ignore[arg-type]  # seconds, floats work
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        client.connect_async(self.host, self.port, 30, clean_start=False, properties=props)
        self._client = client
        self._writer = threading.Thread(target=self._write_loop, name="store-writer", daemon=True)
        self._writer.start()
        client.loop_start()
        if not self._subscribed.wait(START_TIMEOUT_S):
            self.close()
            raise StoreServerError(f"no broker at {self.host}:{self.port}")
        return self

    def close(self) -> None:
        """Disconnect (the session stays on the broker) and close the database. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            # What has arrived is committed and PUBACKed first; a message arriving
            # after this stays unacknowledged and comes again with the session.
            self._incoming.put(None)
            self._writer.join(30)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        if self._ledger is not None:
            self._ledger.close()

    def __enter__(self) -> StoreServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- queries (any thread) -----------------------------------------------------------

    @property
    def ledger(self) -> StoreLedger:
        if self._ledger is None:
            raise StoreServerError("not started")
        return self._ledger

    def messages(self, store: str, lane: str) -> list[dict[str, Any]]:
        """Every stored message of a lane, in seq order."""
        return self.ledger.messages(store, lane)

    def acked_upto(self, store: str, lane: str) -> int:
        return self.ledger.acked_upto(store, lane)

    def gaps(self, store: str, lane: str) -> list[int]:
        return self.ledger.gaps(store, lane)

    def stock(self, sku: str, store: str | None = None) -> Decimal:
        """Sum of the stock deltas of a SKU (in one store, or all)."""
        return self.ledger.stock(sku, store)

    # --- paho callbacks (paho's thread) -------------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning("store server: broker refused the connection: %s", reason)
            return
        topics = [f"{self.root}/+/lanes/+/{kind}" for kind in ("sales", "stock", "events")]
        if self.members is not None:  # members: the lanes' questions
            topics.append(f"{self.root}/+/lanes/+/member/request")
        client.subscribe([(t, 1) for t in topics])

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic.endswith("/member/request"):  # members: answered at once
            try:
                self._answer_member(client, msg.topic, bytes(msg.payload))
            except Exception:
                log.exception("store server: member request on %r failed", msg.topic)
            client.ack(msg.mid, msg.qos)
            return
        try:
            item = self._check(msg.topic, bytes(msg.payload), msg.mid, msg.qos)
        except Exception:  # never let one message stop paho's thread
            log.exception("store server: message on %r failed", msg.topic)
            item = None
        if item is None or self._closed:
            if item is None:
                client.ack(msg.mid, msg.qos)  # rejected for good: the broker may forget it
            return
        self._incoming.put(item)

    def _check(self, topic: str, payload: bytes, mid: int, qos: int) -> Incoming | None:
        try:
            where = parse_uplink_topic(topic, self.root)
            message = decode(payload)
            validate(message)
            _check_matches(where, message)
        except ContractError as e:
            self.rejected += 1
            log.warning("store server: %s: rejected: %s", topic, e)
            return None
        return Incoming(where, topic, message, self._clock().isoformat(), mid, qos)

    # --- members ----------------------------------------------------------------------------

    def _answer_member(self, client: Any, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        try:
            if len(parts) != 6 or parts[0] != self.root or parts[2] != "lanes":
                raise ContractError(f"topic: {topic[:200]!r} is not a member request topic")
            request = parse_request(payload)
            where = Topics(self.root, parts[1], parts[3])
        except ContractError as e:
            self.rejected += 1
            log.warning("store server: %s: rejected: %s", topic, e)
            return
        assert self.members is not None
        member = self.members.get(request["member"])
        earned = self.ledger.points(request["member"], where.store) if member else 0
        reply = answer(request, member, earned, at=self._clock())
        client.publish(where.member, encode(reply), qos=1)
        self.member_answers += 1
        log.info("store server: member …%s: %s", request["member"][-4:], reply["status"])

    def points(self, member: str, store: str | None = None) -> int:
        """A member's balance: the members file's points plus the sales received since."""
        start = self.members.get(member) if self.members is not None else None
        return (start.points if start else 0) + self.ledger.points(member, store)

    # --- the writer thread --------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            first = self._incoming.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < BATCH:
                try:
                    item = self._incoming.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            try:
                self._write(batch)
            except Exception:  # no PUBACK: the broker delivers the batch again
                log.exception("store server: %d messages not stored", len(batch))
            if stop:
                return

    def _write(self, batch: list[Incoming]) -> None:
        kept, marks = self.ledger.store_many(batch)
        assert self._client is not None
        for item in batch:
            if item.conflict or item.refused:
                # Acking would tell the lane to drop a message the server does not have.
                self.rejected += 1
                log.error("store server: %s: %s", item.topic, item.conflict or item.refused)
            self._client.ack(item.mid, item.qos)  # stored, or refused for good
        self.received += len(kept)
        if self.prices is not None:
            self._check_prices(kept)
        if self.on_message is not None:
            for item in kept:
                try:
                    self.on_message(item.topic, item.message)
                except Exception:
                    log.exception("store server: on_message hook failed")
        for (store, lane), upto in marks.items():
            if upto:
                self._ack(store, lane, upto)

    def _check_prices(self, kept: list[Incoming]) -> None:
        assert self.prices is not None
        for item in kept:
            if item.message.get("schema") != "lane.sale/1":
                continue
            try:
                problems = self.prices.check(item.message)
            except Exception as e:  # a check that cannot price it is a difference too
                problems = [f"not checked: {type(e).__name__}: {e}"]
            self.sales_checked += 1
            if problems:
                seq = item.message["seq"]
                self.price_problems.append((item.topic, seq, problems))
                log.error("store server: %s seq %d: prices differ: %s", item.topic, seq, problems)

    def _ack(self, store: str, lane: str, upto: int) -> None:
        if self.drop_acks > 0:
            self.drop_acks -= 1
            log.info("store server: ack upto %d for %s/%s dropped", upto, store, lane)
            return
        topic = Topics(self.root, store, lane).ack
        assert self._client is not None
        self._client.publish(topic, encode(ack_message(upto, at=self._clock())), qos=1)
        self.acks_sent += 1


def _check_matches(where: UplinkTopic, message: dict[str, Any]) -> None:
    if message["schema"] != where.schema:
        raise ContractError(f"schema: {message['schema']!r} on a {where.kind} topic")
    if (message["store"], message["lane"]) != (where.store, where.lane):
        raise ContractError("store/lane: differ from the topic's")
