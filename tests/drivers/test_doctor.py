"""``firmware-lane doctor`` over hw_sim's devices: a real mosquitto, pty scale and printer,
MockFactory pins, real SQLite files. One line per check; exit 0 when all pass, 1 when any fails."""

from __future__ import annotations

import errno
import io
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import serial

from firmware_app.config import Config, DrawerConfig, MqttConfig
from firmware_app.doctor import (
    Check,
    CheckResult,
    DoctorError,
    print_test_receipt,
    run_check,
    run_checks,
    run_doctor,
)
from firmware_app.doctor.devices import check_drawer, check_gpio, check_input, check_scale, users_of
from firmware_app.doctor.services import (
    broker_error_text,
    check_broker,
    check_clock,
    check_database,
    check_disk,
    check_outbox,
)
from firmware_app.doctor.units import UnitStatus
from firmware_app.drivers.discovery import Selector
from firmware_app.drivers.drawer import NO_PIN_LIBRARY_ADVICE
from hw_sim.broker import MosquittoBroker, free_port
from hw_sim.doctor import SimulatedLaneHardware, corrupt_database
from hw_sim.hid import SimulatedHidDevice, SimulatedInputBus
from tests.drivers.healthz import HealthServer
from tests.waiting import wait_until

CHECKS = [
    "config", "scanner", "keypad", "scale", "printer", "pole", "gpio", "drawer", "broker",
    "lane db", "catalog db", "outbox", "disk", "clock", "screen", "kiosk",
]  # fmt: skip
IN_USE = "is firmware-lane running? systemctl stop firmware-lane"
UNPLUGGED = "unplugged, or no udev link of that name? (scripts/lane-ids)"
NOT_RUN_YET = "has the lane run here yet? (it makes lane.data_dir and its databases)"

Lane = Callable[..., SimulatedLaneHardware]


@pytest.fixture
def lane(tmp_path: Path, mosquitto: MosquittoBroker) -> Iterator[Lane]:
    """Builds the simulated lane (with faults) once per test; closed afterwards."""
    built: list[SimulatedLaneHardware] = []

    def build(*faults: str) -> SimulatedLaneHardware:
        hardware = SimulatedLaneHardware(
            tmp_path, tmp_path / "out", broker_url=mosquitto.url, faults=faults
        )
        built.append(hardware)
        return hardware

    yield build
    for hardware in built:
        hardware.close()


def doctor(hardware: SimulatedLaneHardware, config: Config | None = None) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = run_doctor(config or hardware.config, access=hardware.access(), out=out)
    return code, out.getvalue().splitlines()


RUNNING = UnitStatus("loaded", "active", "running")


def with_screen(hardware: SimulatedLaneHardware, server: HealthServer) -> tuple[Config, Any]:
    """The lane's config and access as on a Pi whose lane serves its screen on
    ``server`` and whose kiosk runs."""
    ui = replace(hardware.config.ui, listen=f"127.0.0.1:{server.port}")
    access = replace(hardware.access(), unit_status=lambda unit: RUNNING)
    return replace(hardware.config, ui=ui), access


def line_of(lines: list[str], name: str) -> str:
    (line,) = [line for line in lines if line[2:].split("  ")[0].strip() == name]
    return line


# --- all green ---------------------------------------------------------------------------------


def test_all_green_on_simulated_devices(lane: Lane) -> None:
    hardware = lane()
    out = io.StringIO()
    with HealthServer() as server:
        config, access = with_screen(hardware, server)
        code = run_doctor(config, access=access, out=out)
    lines = out.getvalue().splitlines()
    assert code == 0, "\n".join(lines)
    assert [line[2:13].strip() for line in lines] == CHECKS
    assert all(line.startswith("✓ ") for line in lines), "\n".join(lines)
    config = hardware.config
    assert line_of(lines, "scale") == f"✓ scale      {config.scale.port}: 8217, 0.532 kg stable"
    assert line_of(lines, "printer") == (
        f"✓ printer    {config.printer.port}: online, cover closed, paper ok"
    )
    assert line_of(lines, "scanner") == (
        "✓ scanner    /dev/input/event3 ('Sim Scanner', usb 0c2e:0b61), matched by usb:0c2e:0b61"
    )
    assert line_of(lines, "keypad") == "✓ keypad     /dev/input/event4 ('Sim POS Keypad')"
    assert line_of(lines, "pole") == (
        f"✓ pole       {config.customer_display.port}: cd5220, 9600 8N1: test sent, "
        "the display should read LANE DOCTOR / CD5220 9600 8N1"
    )
    assert hardware.pole.shown == ("    LANE DOCTOR     ", "  CD5220 9600 8N1   ")
    assert line_of(lines, "gpio") == "✓ gpio       GPIO17 (kick), GPIO27 (switch): free"
    assert line_of(lines, "broker").startswith(
        f"✓ broker     {config.mqtt.url}: connected as lane-S001-01 (MQTT 5"
    )
    assert line_of(lines, "lane db").startswith(f"✓ lane db    {config.database}: integrity ok")
    assert line_of(lines, "outbox") == "✓ outbox     0 messages waiting for the store server"
    assert ", NTP synchronised" in line_of(lines, "clock")
    assert line_of(lines, "screen") == (
        f"✓ screen     http://127.0.0.1:{server.port}/: 1 cashier screen, 0 customer displays open"
    )
    assert line_of(lines, "kiosk") == (
        "✓ kiosk      firmware-lane-kiosk.service active (running) on /dev/tty1"
    )
    assert hardware.drawer.kicks == 0  # the doctor never kicks the drawer
    assert hardware.printer.receipts == []  # nor prints


def test_the_pins_and_ports_are_free_again_afterwards(lane: Lane) -> None:
    hardware = lane()
    # 8N1: this kernel's pseudo-terminals refuse a second 7E1 set-up (EINVAL), a real
    # serial adapter does not; the check itself is the same whatever the settings.
    config = replace(hardware.config, scale=replace(hardware.config.scale, bytesize=8, parity="N"))
    assert doctor(hardware, config)[0] == 0
    code, lines = doctor(hardware, config)  # nothing left claimed or locked by the first run
    assert code == 0, "\n".join(lines)


def test_disabled_devices_are_shown_and_do_not_fail(lane: Lane) -> None:
    hardware = lane()
    config = hardware.config
    config = replace(
        config,
        scale=replace(config.scale, enabled=False),
        printer=replace(config.printer, enabled=False),
        drawer=replace(config.drawer, enabled=False),
        customer_display=replace(config.customer_display, enabled=False),
    )
    code, lines = doctor(hardware, config)
    assert code == 0, "\n".join(lines)
    assert "– pole       customer display disabled in config" in lines
    assert hardware.pole.received == b""
    assert "– scale      scale disabled in config" in lines
    assert "– printer    printer disabled in config" in lines
    assert "– drawer     drawer disabled in config" in lines
    assert "– gpio       drawer disabled in config" in lines


# --- each fault: its line and exit 1 -----------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "name", "expected"),
    [
        ("scale-unplug", "scale", "{scale}: 8217: no answer within 500 ms"),
        ("scale-adapter-pull", "scale", "{scale}: no such file or directory: " + UNPLUGGED),
        ("printer-paper-out", "printer", "{printer}: paper out (DLE EOT 1 = 0x1a"),
        ("printer-cover-open", "printer", "{printer}: cover open"),
        ("printer-unplug", "printer", "{printer}: not answering (DLE EOT 1: no answer)"),
        ("pole-adapter-pull", "pole", "{pole}: no such file or directory: " + UNPLUGGED),
        ("scanner-unplug", "scanner", "usb:0c2e:0b61: no input device matches; input devices:"),
        ("keypad-unplug", "keypad", "/dev/input/event4: no such device"),
        ("gpio-busy", "gpio", f"GPIO17 (kick): pin GPIO17 is already in use — {IN_USE}"),
        ("broker-down", "broker", ": connection refused: is mosquitto running on 127.0.0.1:"),
        ("db-corrupt", "lane db", "{db}: "),
        ("outbox-old", "outbox", "1 message waiting, oldest 2 h 0 min old (seq 1, "),
        ("disk-full", "disk", "50.0 MB free of 16.0 GB (0%): below 200.0 MB or 5%"),
        ("clock-unsynced", "clock", "not synchronised (no NTP)"),
    ],
)
def test_a_fault_gives_its_line_and_exit_1(
    lane: Lane, fault: str, name: str, expected: str
) -> None:
    hardware = lane(fault)
    code, lines = doctor(hardware)
    config = hardware.config
    line = line_of(lines, name)
    assert code == 1
    assert line.startswith(f"✗ {name:<10} ")
    paths = {
        "scale": config.scale.port,
        "printer": config.printer.port,
        "pole": config.customer_display.port,
        "db": config.database,
    }
    assert expected.format(**paths) in line
    others = [other for other in lines if other.startswith("✗") and other != line]
    assert others == ([line_of(lines, "drawer")] if fault == "gpio-busy" else [])


def test_an_open_drawer_is_reported_not_failed(lane: Lane) -> None:
    code, lines = doctor(lane("drawer-open"))
    assert code == 0
    assert line_of(lines, "drawer") == (
        "✓ drawer     switch GPIO27: drawer open (contact open, open_when_switch = open)"
    )


def test_printer_near_end_passes_with_a_warning(lane: Lane) -> None:
    hardware = lane()
    hardware.printer.paper("near-end")
    code, lines = doctor(hardware)
    assert code == 0
    assert line_of(lines, "printer").endswith("paper near end: change the roll soon")


def test_a_printer_not_to_be_polled_is_only_opened(lane: Lane) -> None:
    hardware = lane("printer-paper-out")
    config = hardware.config
    config = replace(config, printer=replace(config.printer, status_check=False))
    code, lines = doctor(hardware, config)
    assert code == 0
    assert line_of(lines, "printer") == (
        f"✓ printer    {config.printer.port}: opens; status not asked (printer.status_check off)"
    )
    assert hardware.printer.bytes_received == 0


def test_a_missing_printer_names_its_path(lane: Lane, tmp_path: Path) -> None:
    hardware = lane()
    config = hardware.config
    config = replace(config, printer=replace(config.printer, port=str(tmp_path / "lane-printer")))
    code, lines = doctor(hardware, config)
    assert code == 1
    assert line_of(lines, "printer") == (
        f"✗ printer    {tmp_path / 'lane-printer'}: no such file or directory: {UNPLUGGED}"
    )


def test_a_udev_link_to_a_missing_adapter_says_where_it_points(tmp_path: Path) -> None:
    from firmware_app.config import ScaleConfig

    link = tmp_path / "lane-scale"
    link.symlink_to("/dev/ttyUSB9")
    result = check_scale(
        ScaleConfig(port=str(link)), serial_factory=serial.Serial, holders=users_of
    )
    assert result.line() == (
        f"✗ scale      {link} (link to /dev/ttyUSB9): no such file or directory: {UNPLUGGED}"
    )


# --- devices in use ----------------------------------------------------------------------------


def test_a_scale_port_locked_by_the_lane_is_in_use(lane: Lane) -> None:
    hardware = lane()
    port = hardware.config.scale.port
    with serial.Serial(port, exclusive=True):  # as the running lane holds it
        code, lines = doctor(hardware)
    assert code == 1
    assert line_of(lines, "scale") == f"✗ scale      {port}: locked by another program — {IN_USE}"


def test_a_customer_display_the_lane_drives_is_in_use(lane: Lane) -> None:
    from firmware_app.drivers.pole_display import PoleDisplay

    hardware = lane()
    port = hardware.config.customer_display.port
    with PoleDisplay(hardware.config.customer_display, lambda event: None):
        code, lines = doctor(hardware)
    assert code == 1
    assert line_of(lines, "pole") == f"✗ pole       {port}: locked by another program — {IN_USE}"


def test_an_led_customer_display_lights_every_segment(tmp_path: Path) -> None:
    from firmware_app.config import CustomerDisplayConfig
    from firmware_app.doctor.devices import check_pole
    from hw_sim.pole_display import SimulatedPoleDisplay

    with SimulatedPoleDisplay(tmp_path, protocol="led8") as sim:
        config = CustomerDisplayConfig(enabled=True, port=sim.port, protocol="led8")
        result = check_pole(config, serial_factory=serial.Serial, holders=users_of)
        assert sim.wait_for(lambda shown: shown == ("off", "88888888"), 5.0)
    assert result.line() == (
        f"✓ pole       {sim.port}: led8, 9600 8N1: test sent, the display should read 88888888"
    )


def test_a_customer_display_that_takes_no_data_fails(tmp_path: Path) -> None:
    from firmware_app.config import CustomerDisplayConfig
    from firmware_app.doctor.devices import check_pole
    from hw_sim.pole_display import SimulatedPoleDisplay

    with SimulatedPoleDisplay(tmp_path) as sim:
        sim.stall()
        with serial.Serial(sim.port, write_timeout=0.2) as filler:
            refused = 0
            while refused < 3:  # the line is full: three writes in a row time out
                try:
                    filler.write(b" " * 1024)
                    refused = 0
                except serial.SerialTimeoutException:
                    refused += 1
        config = CustomerDisplayConfig(enabled=True, port=sim.port)
        result = check_pole(config, serial_factory=serial.Serial, holders=users_of)
    assert result.line() == (
        f"✗ pole       {sim.port}: cd5220, 9600 8N1: the display takes no data (cable? power?)"
    )


def test_a_device_another_process_holds_is_in_use_naming_it(lane: Lane) -> None:
    hardware = lane()
    port = hardware.config.printer.port
    with open(port, "rb") as held:
        holder = subprocess.Popen(["sleep", "30"], stdin=held)
    try:
        wait_until(lambda: users_of(port) != [], "the holder's open port")
        access = replace(hardware.access(), users_of=users_of)
        out = io.StringIO()
        assert run_doctor(hardware.config, access=access, out=out) == 1
    finally:
        holder.kill()
        holder.wait()
    line = line_of(out.getvalue().splitlines(), "printer")
    assert line == f"✗ printer    {port}: in use by pid {holder.pid} (sleep) — {IN_USE}"


def test_users_of_leaves_out_this_process_and_missing_paths(tmp_path: Path) -> None:
    path = tmp_path / "device"
    path.write_bytes(b"")
    with open(path, "rb"):
        assert users_of(str(path)) == []
    assert users_of(str(tmp_path / "absent")) == []


# --- scanner and keypad discovery --------------------------------------------------------------


@pytest.fixture
def bus() -> Iterator[tuple[SimulatedInputBus, list[SimulatedHidDevice]]]:
    devices = [SimulatedHidDevice(name) for name in ("Scanner A", "Scanner B", "Keypad")]
    bus = SimulatedInputBus()
    bus.attach(devices[0], vendor=0x0C2E, product=0x0B61)
    bus.attach(devices[1], vendor=0x0C2E, product=0x0B61)
    bus.attach(devices[2], vendor=0x04D9, product=0x1203)
    yield bus, devices
    for device in devices:
        device.close()


def find(device: str, scanner: Selector, keypad: Selector, bus: SimulatedInputBus) -> str:
    result = check_input(
        device,
        {"scanner": scanner, "keypad": keypad},
        grab=True,
        lister=bus.nodes,
        source_factory=bus.open,
        holders=lambda path: (),
    )
    return result.line()


def test_an_ambiguous_match_lists_the_candidates(bus: tuple[SimulatedInputBus, list]) -> None:
    line = find("scanner", Selector("", "usb:0c2e:0b61"), Selector("/dev/input/event5"), bus[0])
    assert line.startswith("✗ scanner    usb:0c2e:0b61: 2 input devices match: ")
    assert "/dev/input/event3 ('Scanner A'" in line and "/dev/input/event4 ('Scanner B'" in line


def test_a_match_that_finds_nothing_lists_what_there_is(
    bus: tuple[SimulatedInputBus, list],
) -> None:
    line = find("scanner", Selector("", "name:Honeywell*"), Selector("/dev/input/event5"), bus[0])
    assert line.startswith("✗ scanner    name:Honeywell*: no input device matches; input devices: ")
    assert "/dev/input/event5 ('Keypad', usb 04d9:1203)" in line


def test_scanner_and_keypad_on_one_device_conflict(bus: tuple[SimulatedInputBus, list]) -> None:
    line = find("keypad", Selector("", "name:Keypad"), Selector("/dev/input/event5"), bus[0])
    assert line == (
        "✗ keypad     /dev/input/event5: the scanner is configured on the same input device "
        "(name:Keypad); give each its own"
    )


# --- broker ------------------------------------------------------------------------------------


def test_the_doctor_keeps_what_the_broker_holds_for_the_lane(mosquitto: MosquittoBroker) -> None:
    """The doctor logs in as the lane: the lane's session and its queued downlink survive."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    topic = "pos/S001/lanes/01/ack"
    got: list[bytes] = []
    subscribed = threading.Event()

    def lane_client() -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id="lane-S001-01",
            protocol=mqtt.MQTTProtocolVersion.MQTTv5,
        )
        client.on_message = lambda c, u, m: got.append(bytes(m.payload))
        client.on_subscribe = lambda *args: subscribed.set()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        client.connect("127.0.0.1", mosquitto.port, clean_start=False, properties=props)
        client.loop_start()
        return client

    client = lane_client()
    client.subscribe(topic, qos=1)
    assert subscribed.wait(5)
    client.disconnect()
    client.loop_stop()
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="store-server")
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    publisher.publish(topic, b"ack 41", qos=1).wait_for_publish(5)
    publisher.disconnect()
    publisher.loop_stop()

    result = check_broker(MqttConfig(url=mosquitto.url), client_id="lane-S001-01")
    assert result.ok, result.line()

    client = lane_client()
    try:
        wait_until(lambda: got == [b"ack 41"], "the queued ack, delivered to the lane")
    finally:
        client.disconnect()
        client.loop_stop()


def test_bad_credentials_are_refused_with_the_reason(tmp_path: Path) -> None:
    password_file = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(password_file), "lane-S001-01", "right-one"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    conf = f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {password_file}\n"
    with MosquittoBroker(port=port, data_dir=tmp_path / "broker", conf=conf) as broker:
        good = MqttConfig(url=broker.url, username="lane-S001-01", password="right-one")
        bad = replace(good, password="Wr0ng-Secret")
        assert check_broker(good, client_id="lane-S001-01").ok
        result = check_broker(bad, client_id="lane-S001-01")
    assert not result.ok
    assert result.line() == (
        f"✗ broker     {broker.url}: refused: Not authorized (135); "
        "check mqtt.username and mqtt.password"
    )
    assert "Wr0ng-Secret" not in result.line()


def test_tls_to_a_plain_listener_fails_with_the_tls_reason(mosquitto: MosquittoBroker) -> None:
    config = MqttConfig(url=f"mqtts://127.0.0.1:{mosquitto.port}")
    result = check_broker(config, client_id="lane-S001-01")
    line = result.line()
    assert line.startswith(f"✗ broker     mqtts://127.0.0.1:{mosquitto.port}: ")
    # The broker drops the handshake: seen as a reset or as TLS's unexpected end of file.
    assert (
        line.endswith(
            ": connection reset by peer during the TLS handshake: "
            "is this port the broker's TLS listener?"
        )
        or ": TLS: " in line
    ), line


def test_a_missing_ca_file_is_named(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    config = MqttConfig(url="mqtts://127.0.0.1:8883", ca_file=str(tmp_path / "ca.crt"))
    result = check_broker(config, client_id="lane-S001-01")
    assert result.line() == (
        "✗ broker     mqtts://127.0.0.1:8883: mqtt.ca_file: "
        f"{tmp_path / 'ca.crt'}: no such file or directory"
    )


def test_a_broker_not_running_is_said_in_words(tmp_path: Path) -> None:
    port = free_port()
    result = check_broker(MqttConfig(url=f"mqtt://127.0.0.1:{port}"), client_id="lane-S1-1")
    assert result.line() == (
        f"✗ broker     mqtt://127.0.0.1:{port}: connection refused: "
        f"is mosquitto running on 127.0.0.1:{port}?"
    )


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
         "connection refused: is mosquitto running on store-server:1883?"),
        (TimeoutError(errno.ETIMEDOUT, "Connection timed out"),
         "connection timed out: nothing answers at store-server:1883 (address? firewall?)"),
        (OSError(errno.EHOSTUNREACH, "No route to host"),
         "no route to host: is store-server on the lane's network? (ping store-server)"),
        (OSError(errno.ENETUNREACH, "Network is unreachable"),
         "network is unreachable: is the lane's network up? (ip addr; cable?)"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
         "cannot find the host store-server (name or service not known): "
         "check mqtt.url and the name service (DNS, /etc/hosts)"),
        (OSError(errno.EPROTO, "Protocol error"), "protocol error"),
    ],
)  # fmt: skip
def test_network_errors_are_words_with_advice(error: OSError, said: str) -> None:
    assert broker_error_text(error, "store-server", 1883) == said


# --- databases, outbox, disk, clock ------------------------------------------------------------


def test_a_missing_database_fails_with_its_path(tmp_path: Path) -> None:
    result = check_database("lane db", tmp_path / "lane.db")
    assert result.line() == (
        f"✗ lane db    {tmp_path / 'lane.db'}: no such file or directory: {NOT_RUN_YET}"
    )
    assert not (tmp_path / "lane.db").exists()  # never created by the check


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "lane.db"
    path.write_bytes(b"this is not a database" * 500)
    assert check_database("lane db", path).line() == (
        f"✗ lane db    {path}: file is not a database"
    )


def test_a_damaged_page_is_found(lane: Lane) -> None:
    hardware = lane()
    corrupt_database(hardware.config.catalog_database)
    result = check_database("catalog db", hardware.config.catalog_database)
    assert not result.ok
    assert str(hardware.config.catalog_database) in result.detail


def test_fresh_messages_in_the_outbox_pass(lane: Lane) -> None:
    hardware = lane("outbox-old")
    config = hardware.config
    created = datetime.now().astimezone() - timedelta(hours=2)
    result = check_outbox(config.database, warn_after_min=180, now=datetime.now().astimezone())
    assert result.line() == "✓ outbox     1 message waiting, oldest 2 h 0 min old (seq 1)"
    assert not check_outbox(config.database, warn_after_min=60, now=created + timedelta(hours=3)).ok


def test_the_disk_of_a_missing_data_dir(tmp_path: Path) -> None:
    import shutil

    result = check_disk(str(tmp_path / "nope"), disk_usage=shutil.disk_usage)
    assert result.line() == (
        f"✗ disk       {tmp_path / 'nope'}: no such file or directory: {NOT_RUN_YET}"
    )


@pytest.mark.parametrize(
    ("now", "synced", "expected"),
    [
        (datetime(2026, 11, 28, 13, 20, 1, tzinfo=timezone(timedelta(hours=8))), True,
         "✓ clock      2026-11-28T13:20:01+08:00, NTP synchronised"),
        (datetime(2026, 11, 28, 13, 20, 1, tzinfo=timezone(timedelta(hours=8))), None,
         "✓ clock      2026-11-28T13:20:01+08:00, synchronisation unknown"),
        (datetime(1970, 1, 1, 0, 0, 42, tzinfo=UTC), True,
         "✗ clock      1970-01-01T00:00:42+00:00: the clock is not set"),
    ],
)  # fmt: skip
def test_the_clock_line(lane: Lane, now: datetime, synced: bool | None, expected: str) -> None:
    config = lane().config
    assert check_clock(config, now=lambda: now, synchronized=lambda: synced).line() == expected


def test_a_clock_behind_the_last_recorded_sale_went_back(lane: Lane) -> None:
    hardware = lane("outbox-old")  # one message, two hours old
    config = hardware.config
    earlier = datetime.now().astimezone() - timedelta(hours=3)
    result = check_clock(config, now=lambda: earlier, synchronized=lambda: True)
    assert not result.ok
    assert f"before the newest time in {config.database}" in result.detail
    assert result.detail.endswith("the clock went back")


def test_an_unknown_time_zone_is_named(lane: Lane) -> None:
    config = replace(lane().config, timezone="Mars/Olympus_Mons")
    result = check_clock(config, now=datetime.now().astimezone, synchronized=lambda: True)
    assert result.line().startswith("✗ clock      lane.timezone 'Mars/Olympus_Mons': unknown")


# --- the runner --------------------------------------------------------------------------------


def test_a_check_that_never_answers_is_cut_short() -> None:
    release = threading.Event()

    def hangs() -> CheckResult:
        release.wait(30)
        return CheckResult("scale", True, "late")

    try:
        result = run_check(Check("scale", "/dev/lane-scale", hangs, timeout_s=0.1))
    finally:
        release.set()
    assert result.line() == "✗ scale      /dev/lane-scale: no answer within 0.1 s"


def test_a_check_that_raises_fails_without_stopping_the_others() -> None:
    def boom() -> CheckResult:
        raise RuntimeError("wires crossed")

    out = io.StringIO()
    checks = [
        Check("scale", "/dev/lane-scale", boom),
        Check("disk", "/", lambda: CheckResult("disk", True, "/: plenty")),
    ]
    assert run_checks(checks, out) == 1
    assert out.getvalue().splitlines() == [
        "✗ scale      /dev/lane-scale: RuntimeError: wires crossed",
        "✓ disk       /: plenty",
    ]


def test_a_failing_drawer_driver_is_one_line() -> None:
    from gpiozero.pins.mock import MockFactory

    config = DrawerConfig(kick_pin=40)  # no such pin on the mock board
    result = check_drawer(config, pin_factory=MockFactory())
    assert not result.ok and "\n" not in result.line()


# --- test print --------------------------------------------------------------------------------


def test_test_print_prints_the_lane_settings(lane: Lane) -> None:
    hardware = lane()
    now = datetime(2026, 11, 28, 13, 20, 1, tzinfo=timezone(timedelta(hours=8)))
    said = print_test_receipt(hardware.config, now=now)
    text = hardware.printer.wait_for_receipt(1, 5.0)
    port = hardware.config.printer.port
    assert said == f"test receipt printed on {port}, paper ok"
    lines = text.splitlines()
    assert "TEST PRINT" in text and "打印测试" in text
    assert "".join(str(i % 10) for i in range(1, 49)) in lines
    assert f"Port: {port}" in lines
    assert "Lane: S001-01" in lines
    assert "Time: 2026-11-28 13:20:01" in lines
    assert "[QR TEST-0000]" in text


def test_test_print_without_paper_says_so(lane: Lane) -> None:
    hardware = lane("printer-paper-out")
    with pytest.raises(DoctorError, match=r"receipt printer on .+: paper out"):
        print_test_receipt(hardware.config)
    assert hardware.printer.receipts == []


# --- no GPIO library ---------------------------------------------------------------------------


@pytest.mark.usefixtures("no_pin_library")
def test_without_a_gpio_library_the_doctor_says_what_to_install() -> None:
    config = DrawerConfig()
    gpio = check_gpio(config, pin_factory=None).line()
    assert gpio == (
        "✗ gpio       GPIO17 (kick): no GPIO pin library works here "
        f"(tried lgpio, rpigpio, pigpio, native); {NO_PIN_LIBRARY_ADVICE}"
    )
    drawer = check_drawer(config, pin_factory=None).line()
    assert drawer == (
        "✗ drawer     GPIO17 (kick), GPIO27 (switch): no GPIO pin library works here "
        f"(tried lgpio, rpigpio, pigpio, native); {NO_PIN_LIBRARY_ADVICE}"
    )
