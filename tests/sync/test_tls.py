"""TLS to the broker: CA file, host name checking, client certificate; no secret in the logs."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_app.config import MqttConfig
from firmware_app.store.db import open_database
from firmware_app.store.outbox import Outbox
from firmware_app.sync.service import SyncService
from hw_sim.broker import BrokerError, MosquittoBroker, free_port, mosquitto_path
from tests.waiting import wait_until

SECRET = "s3cret-Pa55word"


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def issue(name: str, subject: str, cwd: Path, extensions: str) -> None:
    """An EC key and a certificate for it signed by ca.key (EC keys: generated in ms)."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject,
            cwd=cwd)  # fmt: skip
    (cwd / f"{name}.ext").write_text(extensions + "\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext",
            cwd=cwd)  # fmt: skip


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    pki = tmp_path / "pki"
    pki.mkdir()
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=Test store CA", cwd=pki)  # fmt: skip
    issue("server", "/CN=localhost", pki, "subjectAltName=DNS:localhost")
    issue("lane", "/CN=lane-S001-01", pki, "extendedKeyUsage=clientAuth")
    return pki


@pytest.fixture
def tls_broker(pki: Path, tmp_path: Path) -> Iterator[tuple[MosquittoBroker, int]]:
    """A broker with a TLS listener that also asks for a client certificate."""
    try:
        mosquitto_path()
    except BrokerError as e:
        pytest.skip(str(e))
    port = free_port()
    conf = (
        f"listener {port} 127.0.0.1\n"
        f"cafile {pki / 'ca.crt'}\ncertfile {pki / 'server.crt'}\nkeyfile {pki / 'server.key'}\n"
        "require_certificate true\n"
    )
    with MosquittoBroker(data_dir=tmp_path / "mosquitto", extra_conf=conf) as broker:
        wait_until(lambda: _accepts(port), "the TLS listener")
        yield broker, port


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def run_lane(config: MqttConfig, tmp_path: Path, seconds: float) -> bool:
    """Start a sync service, see whether it connects within ``seconds``, close it."""
    db = open_database(tmp_path / "lane.db")
    svc = SyncService(
        config, store_id="S001", lane_id="01", outbox=Outbox(db),
        status=lambda: {"version": "t", "catalog_version": 1, "devices": {}},
        on_downlink=lambda topic, payload: None,
    )  # fmt: skip
    svc.start()
    try:
        deadline = time.monotonic() + seconds
        while not svc.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        return svc.connected
    finally:
        svc.close()
        db.close()


def config(pki: Path, url: str, **kw: str) -> MqttConfig:
    return MqttConfig(
        url=url, ca_file=str(pki / "ca.crt"), username="lane-S001-01", password=SECRET,
        reconnect_min_s=0.05, reconnect_max_s=0.2, **kw,
    )  # fmt: skip


def test_tls_with_ca_and_client_certificate_connects(
    tls_broker: tuple[MosquittoBroker, int], pki: Path, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    _, port = tls_broker
    lane = config(pki, f"mqtts://localhost:{port}", cert_file=str(pki / "lane.crt"),
                  key_file=str(pki / "lane.key"))  # fmt: skip
    assert run_lane(lane, tmp_path, 5.0)
    assert "connected to broker" in caplog.text
    assert SECRET not in caplog.text


def test_a_host_name_not_in_the_certificate_is_refused(
    tls_broker: tuple[MosquittoBroker, int], pki: Path, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    _, port = tls_broker
    lane = config(pki, f"mqtts://127.0.0.1:{port}", cert_file=str(pki / "lane.crt"),
                  key_file=str(pki / "lane.key"))  # fmt: skip
    assert not run_lane(lane, tmp_path, 0.5)
    assert "not reachable" in caplog.text
    assert "127.0.0.1" in caplog.text and "certificate" in caplog.text.lower()
    assert SECRET not in caplog.text


def test_without_a_client_certificate_the_broker_refuses(
    tls_broker: tuple[MosquittoBroker, int], pki: Path, tmp_path: Path
) -> None:
    _, port = tls_broker
    assert not run_lane(config(pki, f"mqtts://localhost:{port}"), tmp_path, 0.5)


def test_a_missing_ca_file_is_logged_and_retried(
    pki: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    lane = MqttConfig(url=f"mqtts://localhost:{free_port()}", ca_file=str(pki / "nope.crt"),
                      password=SECRET, reconnect_min_s=0.05, reconnect_max_s=0.1)  # fmt: skip
    assert not run_lane(lane, tmp_path, 0.3)
    # Said once (then reminded at growing gaps, never on every retry), and tried again.
    assert caplog.text.count("not reachable: mqtt.ca_file") == 1
    assert caplog.text.count("next connection attempt") >= 2
    assert SECRET not in caplog.text
