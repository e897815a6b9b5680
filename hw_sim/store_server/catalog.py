"""Catalog publishing: a ``store.catalog/1`` file to a store's catalog topic, in parts.

What the store server sends down to the lanes (docs/mqtt.md, "store.catalog/1"):
the file is checked against the contract and, when it holds more items than
one message should carry, split into parts (docs/mqtt.md, "Parts").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from firmware_app.sync.contract import ID_PATTERN, ContractError, decode, encode, validate
from hw_sim.store_server.errors import StoreServerError
from hw_sim.store_server.link import START_TIMEOUT_S, BrokerLogin, broker_address, new_client

PART_ITEMS = 20_000  # about 4 MB of JSON per message


def publish_catalog(
    broker_url: str,
    path: Path,
    *,
    store: str,
    root: str = "pos",
    login: BrokerLogin | None = None,
    part_items: int = PART_ITEMS,
) -> str:
    """Publish a ``store.catalog/1`` file to ``{root}/{store}/catalog``, in parts of at
    most ``part_items`` items when it is bigger; returns the topic."""
    message = decode(path.read_bytes())
    validate(message)
    if message["schema"] != "store.catalog/1":
        raise ContractError(f"schema: expected 'store.catalog/1', got {message['schema']!r}")
    parts = split_catalog(message, part_items)
    if not ID_PATTERN.fullmatch(store):
        raise StoreServerError(f"--store: {store!r} does not match [A-Za-z0-9_-]{{1,32}}")
    topic = f"{root}/{store}/catalog"
    host, port = broker_address(broker_url)
    client = new_client(broker_url, login or BrokerLogin())
    try:
        client.connect(host, port, 30)
    except OSError as e:
        raise StoreServerError(f"no broker at {host}:{port}: {e}") from e
    client.loop_start()
    try:
        for part in parts:
            info = client.publish(topic, encode(part), qos=1)
            info.wait_for_publish(START_TIMEOUT_S)
            if not info.is_published():
                raise StoreServerError(
                    f"the broker did not take the catalog within {START_TIMEOUT_S} s"
                )
    finally:
        client.disconnect()
        client.loop_stop()
    return topic


def split_catalog(message: dict[str, Any], part_items: int = PART_ITEMS) -> list[dict[str, Any]]:
    """``message`` as parts of at most ``part_items`` items (docs/mqtt.md, "Parts"):
    the same version and base version on each, ``removed``, promotions and the loyalty
    rule with part 1. A message that fits, or already is a part, goes as it is."""
    items = message["items"]
    if len(items) <= part_items or "parts" in message:
        return [message]
    chunks = [items[i : i + part_items] for i in range(0, len(items), part_items)]
    # Promotions and loyalty: with part 1 only (a later part sends none and leaves the
    # rule as part 1 has it).
    rest = {k: v for k, v in message.items() if k not in ("removed_promotions", "loyalty")}
    return [
        {
            **(message if n == 1 else rest),
            "part": n,
            "parts": len(chunks),
            "items": chunk,
            "removed": message.get("removed", []) if n == 1 else [],
            "promotions": message.get("promotions", []) if n == 1 else [],
        }
        for n, chunk in enumerate(chunks, start=1)
    ]
