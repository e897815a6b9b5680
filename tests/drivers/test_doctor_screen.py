"""The doctor's ``screen`` and ``kiosk`` lines: ``/healthz`` asked of a real HTTP server
on a free port (the lane's answer, another program's, none at all), and systemd's word
on the units through a stand-in ``systemctl`` (a real program printing what
``systemctl show`` prints)."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_app import config as config_mod
from firmware_app.config import Config
from firmware_app.doctor import doctor_checks, run_checks
from firmware_app.doctor.kiosk import check_kiosk
from firmware_app.doctor.screen import (
    Health,
    Problem,
    ScreenProblem,
    check_screen,
    fetch_health,
    page_url,
    parse_health,
    where,
)
from firmware_app.doctor.units import UnitStatus, parse_show, unit_status
from hw_sim.broker import free_port
from tests.drivers.healthz import HEALTHY, Answer, HealthServer, raw_server

TOKEN = "0123456789abcdefABCDEF"
BRIEF = "(is firmware-lane running? `systemctl status firmware-lane`)"
ACTIVE = UnitStatus("loaded", "active", "running")
STOPPED = UnitStatus("loaded", "inactive", "dead")
FAILED = UnitStatus("loaded", "failed", "failed")
RESTARTING = UnitStatus("loaded", "activating", "auto-restart")
NOT_FOUND = UnitStatus("not-found", "inactive", "dead")


def lane_config(listen: str, *, token: str = "", enabled: bool = True, **tables: Any) -> Config:
    ui: dict[str, Any] = {"listen": listen, "enabled": enabled}
    if token:
        ui["token"] = token
    return config_mod.parse(
        {"lane": {"store": "S001", "lane": "01"}, "ui": ui, **tables}, source="lane.toml"
    )


def screen(
    config: Config, lane: UnitStatus | None = ACTIVE, *, timeout_s: float = 3.0
) -> tuple[bool | None, str]:
    result = check_screen(
        config.ui,
        config_path=config.path,
        lane_status=lambda: lane,
        timeout_s=timeout_s,
        problem=config.ui_problem,
    )
    assert result.name == "screen"
    return result.ok, result.detail


# --- the lane answers ---------------------------------------------------------------------


def test_the_lane_answers_with_its_open_screens() -> None:
    with HealthServer(Answer(body={**HEALTHY, "screens": 1, "customers": 2})) as server:
        ok, detail = screen(lane_config(f"127.0.0.1:{server.port}"))
    assert (ok, detail) == (
        True,
        f"http://127.0.0.1:{server.port}/: 1 cashier screen, 2 customer displays open",
    )
    assert server.paths == ["/healthz"]


def test_the_token_is_sent_and_never_shown() -> None:
    with HealthServer(Answer(token=TOKEN, body={**HEALTHY, "screens": 0})) as server:
        ok, detail = screen(lane_config(f"127.0.0.1:{server.port}", token=TOKEN))
    assert ok is True
    assert detail.endswith(": 0 cashier screens, 0 customer displays open")
    assert server.paths == [f"/healthz?token={TOKEN}"]
    assert TOKEN not in detail


def test_a_wildcard_listen_is_asked_at_loopback() -> None:
    with HealthServer() as server:
        config = lane_config(f"0.0.0.0:{server.port}", token=TOKEN)
        server.answer.token = TOKEN
        ok, detail = screen(config)
    assert ok is True, detail
    assert where(config.ui) == f"127.0.0.1:{server.port}"
    assert page_url(config.ui, "/customer") == (
        f"http://127.0.0.1:{server.port}/customer?token={TOKEN}"
    )


def test_ipv6_loopback() -> None:
    try:
        server = HealthServer(host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with server:
        config = lane_config(f"[::1]:{server.port}")
        ok, detail = screen(config)
    assert ok is True, detail
    assert detail.startswith(f"http://[::1]:{server.port}/: 1 cashier screen")
    wildcard = lane_config(f"[::]:{server.port}", token=TOKEN)
    assert where(wildcard.ui) == f"[::1]:{server.port}"


def test_a_proxy_in_the_environment_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with HealthServer() as server:
        ok, detail = screen(lane_config(f"127.0.0.1:{server.port}"))
    assert ok is True, detail


# --- nothing answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lane", "ok", "words"),
    [
        (None, None, f"nothing answers on 127.0.0.1:PORT {BRIEF}"),  # no systemd to ask
        (NOT_FOUND, False, f"nothing answers on 127.0.0.1:PORT {BRIEF}"),
        (FAILED, False, f"nothing answers on 127.0.0.1:PORT {BRIEF}"),
        (RESTARTING, False, f"nothing answers on 127.0.0.1:PORT {BRIEF}"),
        (STOPPED, None, "not checked: firmware-lane is stopped, and it serves the screen"),
        (ACTIVE, False, "though firmware-lane is running: its log says why"),
    ],
)
def test_nothing_answers(lane: UnitStatus | None, ok: bool | None, words: str) -> None:
    port = free_port()
    result, detail = screen(lane_config(f"127.0.0.1:{port}"), lane)
    assert result is ok
    assert words.replace("PORT", str(port)) in detail, detail


def test_a_connection_held_without_an_answer_is_not_waited_for_long() -> None:
    with raw_server(None) as port:
        ok, detail = screen(lane_config(f"127.0.0.1:{port}"), timeout_s=0.3)
    assert ok is False
    assert detail == (
        f"127.0.0.1:{port}: no answer within 0.3 s (is the lane stuck? journalctl -u firmware-lane)"
    )


# --- the port answers, but not as the lane ------------------------------------------------

NOT_THE_LANE = "answers but is not the lane's screen"


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (Answer(body="<html>router login</html>"), "/healthz is not JSON"),
        (Answer(status=404, body="not found"), "HTTP 404 for /healthz"),
        (Answer(status=500, body="oops"), "HTTP 500 for /healthz"),
        (Answer(body={"status": "UP"}), "/healthz has no screens, customers and v counts"),
        (Answer(body=[1, 2]), "/healthz is not a JSON object"),
        (Answer(status=302, headers={"Location": "/login"}), "HTTP 302 for /healthz"),
    ],
)
def test_another_program_on_the_port(answer: Answer, why: str) -> None:
    with HealthServer(answer) as server:
        ok, detail = screen(lane_config(f"127.0.0.1:{server.port}"))
    assert ok is False
    port = server.port
    assert detail == (
        f"port {port} {NOT_THE_LANE} ({why}): another program on 127.0.0.1:{port}? "
        f"(sudo ss -ltnp 'sport = :{port}')"
    )
    assert server.paths == ["/healthz"]  # a redirect is not followed


def test_a_program_that_speaks_no_http() -> None:
    with raw_server(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n") as port:
        ok, detail = screen(lane_config(f"127.0.0.1:{port}"))
    assert ok is False
    assert detail.startswith(f"port {port} {NOT_THE_LANE} (no HTTP answer (")


def test_the_lane_says_it_is_not_ok() -> None:
    with HealthServer(Answer(body={**HEALTHY, "ok": False})) as server:
        ok, detail = screen(lane_config(f"127.0.0.1:{server.port}"))
    assert (ok, detail) == (
        False,
        f'127.0.0.1:{server.port}: /healthz says "ok": false: journalctl -u firmware-lane',
    )


# --- the token ------------------------------------------------------------------------------


def test_a_wrong_token_is_refused() -> None:
    with HealthServer(Answer(token=TOKEN)) as server:
        ok, detail = screen(lane_config(f"127.0.0.1:{server.port}", token="X" * 20))
    assert ok is False
    assert detail == (
        f"127.0.0.1:{server.port} refused the token: [ui] token in lane.toml is not the "
        "running lane's (restart firmware-lane after changing it)"
    )
    assert "X" * 20 not in detail


def test_a_lane_that_wants_a_token_the_config_lacks() -> None:
    with HealthServer(Answer(token=TOKEN)) as server:
        ok, detail = screen(lane_config(f"127.0.0.1:{server.port}"))
    assert ok is False
    assert detail == (
        f"127.0.0.1:{server.port} refused the token: the running lane wants a token and "
        "[ui] token in lane.toml is empty"
    )


def test_disabled_ui_is_not_checked() -> None:
    port = free_port()
    assert screen(lane_config(f"127.0.0.1:{port}", enabled=False)) == (
        None,
        "disabled ([ui] enabled = false)",
    )


def test_a_bad_ui_section_fails_with_its_reason() -> None:
    ok, detail = screen(lane_config("0.0.0.0:8080"))
    assert ok is False
    assert detail.startswith("lane.toml: ui.listen: 0.0.0.0:8080 is reachable from other machines")
    assert detail.endswith(": the lane sells without its screen")


# --- the answer's shape --------------------------------------------------------------------


def test_parse_health_reads_the_lanes_answer() -> None:
    body = json.dumps({**HEALTHY, "screens": 2, "customers": 1, "v": 7, "extra": "kept"})
    assert parse_health(body.encode()) == Health(screens=2, customers=1, run="3f9c2a1e", v=7)


@pytest.mark.parametrize(
    "body",
    [
        {**HEALTHY, "screens": True},
        {**HEALTHY, "screens": -1},
        {**HEALTHY, "customers": 1.0},
        {**HEALTHY, "v": "1"},
        {**HEALTHY, "run": 3},
        {**HEALTHY, "ok": "true"},
        {key: value for key, value in HEALTHY.items() if key != "ok"},
    ],
)
def test_parse_health_refuses_other_shapes(body: dict[str, Any]) -> None:
    with pytest.raises(ScreenProblem) as caught:
        parse_health(json.dumps(body).encode())
    assert caught.value.problem is Problem.NOT_THE_LANE


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=6),
    max_leaves=20,
)


@given(
    st.one_of(
        st.binary(max_size=200),
        JSON.map(lambda doc: json.dumps(doc).encode()),
        st.fixed_dictionaries(
            {
                "ok": st.booleans(),
                "screens": st.integers(),
                "customers": st.integers(),
                "run": st.text(),
                "v": st.integers(),
            }
        ).map(lambda doc: json.dumps(doc).encode()),
    )
)
def test_parse_health_gives_a_health_or_a_screen_problem(body: bytes) -> None:
    try:
        health = parse_health(body)
    except ScreenProblem as e:
        assert e.problem in (Problem.NOT_THE_LANE, Problem.NOT_OK)
        return
    assert min(health.screens, health.customers, health.v) >= 0


def test_fetch_health_refuses_an_endless_answer() -> None:
    with HealthServer(Answer(body="x" * 70_000)) as server, pytest.raises(ScreenProblem) as caught:
        fetch_health(lane_config(f"127.0.0.1:{server.port}").ui)
    assert caught.value.problem is Problem.NOT_THE_LANE
    assert "over 65536 bytes" in caught.value.reason


# --- the kiosk line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "ok", "detail"),
    [
        (None, None, "not checked: systemd is not running here"),
        (NOT_FOUND, None, "not installed (sudo scripts/install-pi --kiosk)"),
        (UnitStatus("masked", "inactive", "dead"), None, "firmware-lane-kiosk.service is masked"),
        (ACTIVE, True, "firmware-lane-kiosk.service active (running) on /dev/tty1"),
        (
            RESTARTING,
            False,
            "firmware-lane-kiosk.service activating (auto-restart): it keeps stopping; "
            "journalctl -u firmware-lane-kiosk -b",
        ),
        (
            FAILED,
            False,
            "firmware-lane-kiosk.service failed (failed): journalctl -u firmware-lane-kiosk -b, "
            "then sudo systemctl restart firmware-lane-kiosk.service",
        ),
        (
            STOPPED,
            False,
            "firmware-lane-kiosk.service inactive (dead): "
            "sudo systemctl enable --now firmware-lane-kiosk.service",
        ),
    ],
)
def test_kiosk_line(unit: UnitStatus | None, ok: bool | None, detail: str) -> None:
    result = check_kiosk("-", status=lambda: unit)
    assert (result.name, result.ok, result.detail) == ("kiosk", ok, detail)


def test_a_text_display_on_the_kiosks_console_fails() -> None:
    result = check_kiosk("/dev/tty1", status=lambda: ACTIVE)
    assert result.ok is False
    assert result.detail.startswith('[display] device = "/dev/tty1" is the kiosk\'s console')
    assert check_kiosk("/dev/tty1", status=lambda: NOT_FOUND).ok is None  # no kiosk: fine


# --- systemd, asked through a real program ------------------------------------------------


def fake_systemctl(tmp_path: Path, stdout: str, code: int = 0) -> str:
    """A ``systemctl`` that prints ``stdout`` and exits ``code``, and logs its arguments."""
    program = tmp_path / "systemctl"
    log = tmp_path / "systemctl.args"
    program.write_text(
        f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {log}\nprintf '%s' '{stdout}'\nexit {code}\n"
    )
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return str(program)


def test_unit_status_reads_systemctl_show(tmp_path: Path) -> None:
    systemctl = fake_systemctl(
        tmp_path, "LoadState=loaded\nActiveState=activating\nSubState=auto-restart\n"
    )
    assert unit_status("firmware-lane-kiosk.service", systemctl=systemctl) == RESTARTING
    args = (tmp_path / "systemctl.args").read_text().split()
    assert args == [
        "show",
        "--property=LoadState,ActiveState,SubState",
        "--",
        "firmware-lane-kiosk.service",
    ]


@pytest.mark.parametrize(
    ("stdout", "code"),
    [
        ("System has not been booted with systemd as init system (PID 1). Can't operate.", 1),
        ("", 0),
        ("ActiveState=active\n", 0),  # no LoadState
    ],
)
def test_unit_status_is_none_where_systemd_cannot_say(
    tmp_path: Path, stdout: str, code: int
) -> None:
    assert unit_status("x.service", systemctl=fake_systemctl(tmp_path, stdout, code)) is None


def test_unit_status_without_systemctl_or_an_answer(tmp_path: Path) -> None:
    assert unit_status("x.service", systemctl=str(tmp_path / "missing")) is None
    slow = tmp_path / "slow"
    slow.write_text("#!/bin/sh\nexec sleep 5\n")
    slow.chmod(0o755)
    assert unit_status("x.service", systemctl=str(slow), timeout_s=0.2) is None


@pytest.mark.skipif(os.path.isdir("/run/systemd/system"), reason="systemd runs here")
def test_the_real_systemctl_without_systemd_says_nothing() -> None:
    assert unit_status("firmware-lane.service") is None


def test_parse_show_ignores_other_lines() -> None:
    assert parse_show("Foo\nLoadState=loaded\nActiveState=active\n") == UnitStatus(
        "loaded", "active", ""
    )


# --- in the doctor's run ----------------------------------------------------------------------


def test_the_doctor_shows_screen_and_kiosk_last() -> None:
    statuses = {"firmware-lane.service": ACTIVE, "firmware-lane-kiosk.service": ACTIVE}
    with HealthServer(Answer(body={**HEALTHY, "screens": 1, "customers": 1})) as server:
        config = lane_config(f"127.0.0.1:{server.port}")
        from firmware_app.doctor import DeviceAccess

        access = replace(DeviceAccess(), unit_status=statuses.get)
        checks = doctor_checks(config, access)
        assert [c.name for c in checks][-2:] == ["screen", "kiosk"]
        out = io.StringIO()
        run_checks(checks[-2:], out)
    assert out.getvalue().splitlines() == [
        f"✓ screen     http://127.0.0.1:{server.port}/: 1 cashier screen, 1 customer display open",
        "✓ kiosk      firmware-lane-kiosk.service active (running) on /dev/tty1",
    ]


def test_loopback_is_where_a_free_port_is_free() -> None:
    """The tests' premise: nothing listens on a port free_port() gives."""
    port = free_port()
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", port))
