"""A simulated store server: the other end of the MQTT contract, for tests and the bench.

It subscribes to every lane's ``sales``, ``stock`` and ``events``, checks each
message against the contract, stores it once per (store, lane, seq) in SQLite,
keeps stock levels per SKU and answers each lane with ``store.ack/1`` for the
highest seq up to which it has everything. A message that arrives twice is
stored and counted once. One module per job:

- ``ledger``: the SQLite file of what has been received, ack marks, stock, gaps;
- ``server``: the MQTT side, group commits with manual PUBACKs and lane acks;
- ``catalog``: publishing a ``store.catalog/1`` file, in parts;
- ``cli``: the command line, ``python -m hw_sim.store_server`` (see there);
- ``link`` and ``errors``: how to reach a broker, and what can go wrong.
"""

from hw_sim.store_server.catalog import PART_ITEMS, publish_catalog, split_catalog
from hw_sim.store_server.cli import main
from hw_sim.store_server.errors import ConflictError, StoreServerError
from hw_sim.store_server.ledger import Incoming, StoreLedger
from hw_sim.store_server.link import BrokerLogin
from hw_sim.store_server.server import BATCH, MessageHook, StoreServer

__all__ = [
    "BATCH",
    "PART_ITEMS",
    "BrokerLogin",
    "ConflictError",
    "Incoming",
    "MessageHook",
    "StoreLedger",
    "StoreServer",
    "StoreServerError",
    "main",
    "publish_catalog",
    "split_catalog",
]
