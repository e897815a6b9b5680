"""Catalog changes from the store server reach a running lane through a real broker:
applied when they follow the lane's version, refused whole when malformed, and a
gap makes the lane ask for a snapshot."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from firmware_app import config as config_mod
from firmware_app.app.bootstrap import Hardware, LaneApp
from firmware_app.drivers.text_display import TextDisplay
from firmware_app.lane.rules import LaneSetup
from firmware_app.store.catalog_doc import parse_catalog
from hw_sim.broker import MosquittoBroker
from hw_sim.lane_sim import SAMPLE_CATALOG
from tests.headless import headless_config
from tests.waiting import wait_until


@pytest.fixture
def app(tmp_path: Path, mosquitto: MosquittoBroker) -> Iterator[LaneApp]:
    cfg = config_mod.parse(headless_config(tmp_path, mosquitto.url))
    lane_app = LaneApp(
        cfg, hardware=Hardware(display=TextDisplay(io.StringIO(), setup=LaneSetup()))
    )
    lane_app.catalog.apply(parse_catalog(SAMPLE_CATALOG.read_bytes()))
    lane_app.start()
    wait_until(lambda: lane_app.sync.connected)
    yield lane_app
    lane_app.close()


class StoreSide:
    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.requests: list[dict] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="store-side")
        self.client.on_message = lambda c, u, m: self.requests.append(json.loads(m.payload))
        self.client.connect(host, int(port))
        self.client.subscribe("pos/S001/lanes/+/catalog/request", qos=1)
        self.client.loop_start()

    def publish(self, doc: dict | bytes) -> None:
        payload = doc if isinstance(doc, bytes) else json.dumps(doc, ensure_ascii=False)
        self.client.publish("pos/S001/catalog", payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def change(version: int, base: int | None, price: int) -> dict:
    return {
        "schema": "store.catalog/1", "at": "2026-11-28T09:00:00+08:00", "version": version,
        "base_version": base, "removed": [], "promotions": [],
        "items": [{"sku": "100234", "name": "可口可乐 330ml", "codes": ["6954767410388"],
                   "plu": None, "unit": "each", "price": price, "tax_rate": "13",
                   "age_restricted": False, "active": True}],
    }  # fmt: skip


def test_catalog_downlink(app: LaneApp, mosquitto: MosquittoBroker) -> None:
    store = StoreSide(mosquitto.url)
    try:
        store.publish(change(2, 1, 399))
        wait_until(lambda: app.catalog.version() == 2)
        assert app.catalog.by_code("06954767410388").price == 399

        for bad in (b"{oops", change(3, 2, -1), {**change(3, 2, 1), "schema": "x/1"}):
            store.publish(bad)
        store.publish(change(3, 2, 420))  # a good one after the bad ones still applies
        wait_until(lambda: app.catalog.version() == 3)
        assert app.catalog.by_code("06954767410388").price == 420

        store.publish(change(9, 7, 1))  # the lane has 3: a gap
        wait_until(lambda: bool(store.requests))
        assert store.requests[0]["schema"] == "lane.catalog-request/1"
        assert store.requests[0]["have"] == 3
        assert app.catalog.version() == 3
    finally:
        store.close()


def test_restriction_fields_come_down_and_a_bad_one_is_refused_whole(
    app: LaneApp, mosquitto: MosquittoBroker
) -> None:
    """Restrictions: department, min_age, sale_hours and member_price reach catalog.db."""
    from datetime import time

    store = StoreSide(mosquitto.url)
    try:
        bad = change(2, 1, 399)
        bad["items"][0]["sale_hours"] = ["22:00"]
        store.publish(bad)
        good = change(2, 1, 380)
        good["items"][0].update(
            department="drinks", min_age=16, sale_hours=["06:00", "23:30"], member_price=300
        )
        store.publish(good)
        wait_until(lambda: app.catalog.version() == 2)
        item = app.catalog.by_code("06954767410388")
        assert item is not None and item.price == 380
        assert (item.department, item.min_age, item.sale_hours, item.member_price) == (
            "drinks",
            16,
            (time(6), time(23, 30)),
            300,
        )
    finally:
        store.close()
