"""The private broker helper used by the sync tests and ``python -m hw_sim``."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import hw_sim.broker as broker_module
from hw_sim.broker import BrokerError, MosquittoBroker, free_port


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_restarts_on_the_same_port(mosquitto: MosquittoBroker) -> None:
    port = mosquitto.port
    assert mosquitto.url == f"mqtt://127.0.0.1:{port}"
    assert accepts(port)
    mosquitto.stop()
    mosquitto.stop()  # idempotent
    assert not accepts(port)
    mosquitto.start()
    assert accepts(port)
    mosquitto.kill()
    assert not mosquitto.running
    mosquitto.start()
    assert (mosquitto.running, mosquitto.port) == (True, port)


def test_context_manager_cleans_its_temporary_directory(mosquitto: MosquittoBroker) -> None:
    with MosquittoBroker() as broker:
        data = broker.data_dir
        assert accepts(broker.port)
        assert "persistence false" in (data / "mosquitto.conf").read_text()
    assert not data.exists()
    assert not accepts(broker.port)


def test_a_broker_that_cannot_start_says_why(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    clash = MosquittoBroker(port=mosquitto.port, data_dir=tmp_path / "clash")
    with pytest.raises(BrokerError, match=f"did not start on port {mosquitto.port}"):
        clash.start()
    clash.close()


def test_missing_mosquitto_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(broker_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(broker_module, "FALLBACK_PATH", Path("/nonexistent/mosquitto"))
    with pytest.raises(BrokerError, match="apt-get install mosquitto"):
        MosquittoBroker(port=free_port()).start()
