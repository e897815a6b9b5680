"""Catalog changes from the store server, applied on a thread of their own.

The sync thread hands every ``store.catalog/1`` message over and goes back to
sending sales at once: parsing and applying a 100,000-item snapshot takes
seconds, and it happens here, in the catalog's own database file, so neither
the uplink nor the cashier waits for it. A change sent in parts is kept part by
part until all have come, then applied whole. A change that does not follow the
lane's version is answered with a request for a snapshot; a snapshot older
than the lane's version, and anything malformed, is counted as rejected,
changes nothing and is logged with its reason.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime

from firmware_app.app.memory import give_back_memory
from firmware_app.errors import CatalogError, CatalogGap
from firmware_app.store.catalog import Applied, StoreCatalog
from firmware_app.store.catalog_doc import parse_catalog

log = logging.getLogger(__name__)

_STOP = object()


class CatalogUpdates:
    """Applies catalog messages in arrival order.

    ``request_snapshot(have)`` is called when a change does not follow the lane's
    version; ``on_applied(version)`` after each applied change. Both run on this
    class's thread.
    """

    def __init__(
        self,
        catalog: StoreCatalog,
        *,
        request_snapshot: Callable[[int], None],
        on_applied: Callable[[int], None],
        clock: Callable[[], datetime],
    ) -> None:
        self.catalog = catalog
        self.request_snapshot = request_snapshot
        self.on_applied = on_applied
        self.clock = clock
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="catalog", daemon=True)
        self.applied = 0
        self.rejected = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, topic: str, payload: bytes) -> None:
        """Queue a downlink catalog message; safe from any thread."""
        self._queue.put((topic, payload))

    def idle(self) -> bool:
        return self._queue.unfinished_tasks == 0

    def close(self) -> None:
        """Finish the message being applied, then stop. Idempotent."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    self.catalog.db.close()  # this thread's connection only
                    return
                topic, payload = item  # type: ignore[misc]
                self.handle(topic, payload)
            except Exception:
                log.exception("catalog message failed")
            finally:
                self._queue.task_done()

    def handle(self, topic: str, payload: bytes) -> None:
        """Parse, stage or apply one message (on the caller's thread)."""
        try:
            change = parse_catalog(payload)
            if change.parts > 1:
                applied = self.catalog.stage(change, self.clock())
                if applied is None:
                    log.info(
                        "catalog version %d: part %d of %d kept",
                        change.version,
                        change.part,
                        change.parts,
                    )
                    return
            else:
                applied = self.catalog.apply(change)
            self._applied(applied)
        except CatalogGap as e:
            log.warning("catalog message on %s not applied: %s; asking for a snapshot", topic, e)
            self.request_snapshot(self.catalog.version())
        except CatalogError as e:
            self.rejected += 1
            log.warning("catalog message on %s rejected, nothing changed: %s", topic, e)
        except Exception:
            # Not the document's known faults but the lane's own (a full disk, a bug):
            # the change was rolled back all the same, and it counts as not applied.
            self.rejected += 1
            log.exception("catalog message on %s rejected, nothing changed", topic)

    def _applied(self, applied: Applied) -> None:
        self.applied += 1
        log.info(
            "catalog version %d applied (%d items, %d removed)",
            applied.version,
            applied.items,
            applied.removed,
        )
        give_back_memory()
        self.on_applied(applied.version)
