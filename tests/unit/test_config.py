"""The config file: the example loads, and every mistake names the file, key and reason."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import firmware_app
from firmware_app import config
from firmware_app.app.config_check import Problem, check_files
from firmware_app.errors import ConfigError

EXAMPLE = Path(firmware_app.__file__).parent / "lane.example.toml"


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "lane.toml"
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


def test_example_config_loads_with_its_documented_defaults() -> None:
    c = config.load(EXAMPLE)
    assert (c.store, c.lane, c.rules.currency, c.rules.minor_digits) == ("S001", "01", "CNY", 2)
    assert c.scale.poll_ms == 200 and c.drawer.pulse_ms == 100 and c.printer.columns == 48
    assert [f.pattern for f in c.rules.label_formats] == ["20IIIIIPPPPPC", "21IIIIIWWWWWC"]
    assert c.rules.max_cash_tender == 500000
    assert c.keypad.keymap["KEY_KP7"] == "7"
    # the example's values are the defaults: a minimal file gives the same config
    minimal = config.parse({"lane": {"store": "S001", "lane": "01"}}, source=c.path)
    assert minimal == c


def test_minimal_config(tmp_path: Path) -> None:
    c = config.load(write(tmp_path, '[lane]\nstore = "S9"\nlane = "3"\n'))
    assert c.mqtt.port == 1883 and not c.mqtt.tls
    assert c.database == Path("/var/lib/firmware-lane/lane.db")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[lane]\nlane = "1"\n', "lane.store: required"),
        ('[lane]\nstore = "S 1"\nlane = "1"\n', "lane.store"),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[scale]\npoll_ms = "fast"\n',
            "scale.poll_ms: expected an integer from 50 to 5000, got 'fast'",
        ),
        ('[lane]\nstore = "S1"\nlane = "1"\n[scale]\npol_ms = 100\n', "scale.pol_ms: unknown key"),
        ('[lane]\nstore = "S1"\nlane = "1"\n[printer]\npaper_mm = 70\n', "printer.paper_mm"),
        ('[lane]\nstore = "S1"\nlane = "1"\n[drawer]\npulse_ms = 2000\n', "drawer.pulse_ms"),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[drawer]\nswitch_pin = 17\n',
            "drawer.switch_pin: must differ",
        ),
        ('[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nurl = "http://x"\n', "mqtt.url"),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nurl = "mqtt://h:99999"\n',
            "mqtt.url: bad port",
        ),
        ('[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\ncert_file = "c.pem"\n', "mqtt.cert_file"),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[sale]\ncash_rounding = "0.001"\n',
            "sale.cash_rounding",
        ),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[sale]\nmax_cash_tender = -5\n',
            "sale.max_cash_tender",
        ),
        ('[lane]\nstore = "S1"\nlane = "1"\n[sale]\ncurrency = "yuan"\n', "sale.currency"),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[labels]\nformats = ["20IIIIIPPPPP"]\n',
            "labels.formats[0]",
        ),
        ('[lane]\nstore = "S1"\nlane = "1"\n[keypad.map]\nKEY_F1 = "FLY"\n', "keypad.map.KEY_F1"),
        ('[lane]\nstore = "S1"\nlane = "1"\n[keypad.map]\nF1 = "PLU"\n', "keypad.map.F1"),
        ('[lane]\nstore = "S1"\nlane = "1"\n[scanner]\nlayout = "jp"\n', "scanner.layout"),
        ('[lane]\nstore = "S1"\nlane = "1"\n[typo]\nx = 1\n', "typo: unknown key"),
        # Values that passed the check and then stopped `run` with a traceback.
        (
            '[lane]\nstore = "S1"\nlane = "1"\ntimezone = "Mars/Base"\n',
            "lane.timezone: unknown time zone 'Mars/Base'",
        ),
        ('[lane]\nstore = "S1"\nlane = "1"\ntimezone = "Asia"\n', "lane.timezone: unknown"),
        ('[lane]\nstore = "S1"\nlane = "1"\ntimezone = "/etc/x"\n', "lane.timezone: unknown"),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[keypad.map]\nKEY_FLUBBER = "PLU"\n',
            "keypad.map.KEY_FLUBBER: no such evdev key",
        ),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[keypad.map]\nKEY_F1 = ["PLU"]\n',
            "keypad.map.KEY_F1: expected a lane key name",
        ),
        ('[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nurl = "mqtt://[::1"\n', "mqtt.url: "),
        ('[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nurl = "mqtt://h:abc"\n', "mqtt.url: bad port"),
        ('[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nurl = "mqtt://h:0"\n', "mqtt.url: bad port"),
        ('[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nurl = "mqtt://ho st"\n', "mqtt.url: "),
        ('[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nurl = "mqtt://h/x?y"\n', "mqtt.url: "),
        ('[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nurl = "mqtt://a..b"\n', "an empty label"),
        ('[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nurl = "mqtt://-a.b"\n', "bad label '-a'"),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nurl = "mqtt://10.0.0.300:1883"\n',
            "not an IP address",
        ),
        (
            f'[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nurl = "mqtt://{"a" * 64}.lan"\n',
            "bad label",
        ),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nurl = "mqtts://[::1"\n',
            "mqtt.url: ",
        ),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nca_file = "/etc/ca.pem"\n',
            "mqtt.ca_file: needs an mqtts:// url",
        ),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nurl = "mqtts://h"\nkey_file = "k.pem"\n',
            "mqtt.key_file: needs mqtt.cert_file",
        ),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nreconnect_min_s = 30\nreconnect_max_s = 5\n',
            "mqtt.reconnect_max_s: must not be below reconnect_min_s",
        ),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[sale]\nmax_cash_tender = "1e999999999"\n',
            "sale.max_cash_tender: '1e999999999' is too large",
        ),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[sale]\nmax_cash_tender = "1e-999999999"\n',
            "sale.max_cash_tender: '1e-999999999' has more than 2 decimals",
        ),
        (
            f'[lane]\nstore = "S1"\nlane = "1"\n[sale]\ncash_rounding = "1{"0" * 5000}"\n',
            "sale.cash_rounding: ",
        ),
        (
            '[lane]\nstore = "S1"\nlane = "1"\ndata_dir = ""\n',
            "lane.data_dir: expected an absolute",
        ),
        ('[lane]\nstore = "S1"\nlane = "1"\ndata_dir = "data"\n', "lane.data_dir: expected an"),
        ('[lane]\nstore = "S1\\n"\nlane = "1"\n', "lane.store: "),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[printer]\nport = "/dev/a\\u0000b"\n',
            "printer.port: ",
        ),
        ('[lane]\nstore = "S1"\nlane = "1"\n[scale]\nport = ""\n', "scale.port: required"),
        (
            '[lane]\nstore = "S1"\nlane = "1"\n[scale]\nenabled = false\nport = "a\\u0000"\n',
            "scale.port: 'a\\x00' holds a NUL character",
        ),
        ('[lane]\nstore = "S1"\nlane = "1"\n[printer]\nport = ""\n', "printer.port: required"),
        ('[lane]\nstore = "S1"\nlane = "1"\n[scanner]\npath = ""\n', "scanner.path: required"),
        ('[lane]\nstore = "S1"\nlane = "1"\n[display]\ndevice = "tty1"\n', "display.device: "),
        ('[lane]\nstore = "S1"\nlane = "1"\n[display]\ndevice = ""\n', "display.device: "),
        ('[lane]\nstore = "S1"\nlane = "1"\nscale = 3\n', "lane.scale: unknown key"),
        ("[lane\n", "not valid TOML"),
    ],
)
def test_mistakes_name_file_key_and_reason(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert str(err.value).startswith(f"{path}: ")
    assert where in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        config.load(tmp_path / "nope.toml")


def test_world_readable_file_with_a_password_is_refused(tmp_path: Path) -> None:
    text = '[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nusername = "lane1"\npassword = "s3cret"\n'
    with pytest.raises(ConfigError, match=r"mqtt\.password: .*readable by everyone") as err:
        config.load(write(tmp_path, text, mode=0o644))
    assert "s3cret" not in str(err.value)
    c = config.load(write(tmp_path, text, mode=0o640))
    assert "s3cret" not in repr(c)


def test_keypad_map_overrides_and_removes_defaults(tmp_path: Path) -> None:
    text = '[lane]\nstore = "S1"\nlane = "1"\n[keypad.map]\nKEY_F1 = "SIGNON"\nKEY_S = ""\n'
    c = config.load(write(tmp_path, text))
    assert c.keypad.keymap["KEY_F1"] == "SIGNON" and "KEY_S" not in c.keypad.keymap


def test_a_world_writable_config_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[lane]\nstore = "S1"\nlane = "1"\n', mode=0o666)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert str(err.value) == (
        f"{path}: writable by everyone: anyone on the lane could change it; run: chmod o-w {path}"
    )


def test_a_world_readable_tls_key_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "lane.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\n", encoding="utf-8")
    os.chmod(key, 0o644)
    text = (
        '[lane]\nstore = "S1"\nlane = "1"\n[mqtt]\nurl = "mqtts://broker"\n'
        f'cert_file = "{tmp_path / "lane.crt"}"\nkey_file = "{key}"\n'
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert str(err.value) == (
        f"{path}: mqtt.key_file: {key} is readable by everyone; run: chmod o-r {key}"
    )
    os.chmod(key, 0o640)
    assert config.load(path).mqtt.key_file == str(key)


# --- any document: a ConfigError or a config, never another exception ------------------


def _known_keys() -> dict[str, list[str]]:
    """Every table and key of the commented example (the documented keys)."""
    import tomllib

    doc = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    return {name: list(table) for name, table in doc.items() if isinstance(table, dict)}


KNOWN = _known_keys()
KEYS = [(table, key) for table, keys in sorted(KNOWN.items()) for key in keys]
# Values that once passed the check and broke `run`, and their kin.
AWKWARD = ["", "-", "0", "1e999999999", "NaN", "-1", "mqtt://[::1", "a\x00b", "Mars/Base", "S1\n"]
toml_scalars = st.one_of(
    st.sampled_from(AWKWARD),
    st.text(max_size=12),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.booleans(),
    st.datetimes(),
)
toml_values = st.one_of(
    toml_scalars,
    st.lists(toml_scalars, max_size=3),
    st.dictionaries(
        st.sampled_from(["KEY_F1", "KEY_NOPE", "x"]),
        st.one_of(toml_scalars, st.lists(toml_scalars, max_size=2)),
        max_size=2,
    ),
)


def parse_one(table: str, key: str, value: Any) -> None:
    """Parse a minimal document with ``table.key = value``: a config or a ConfigError."""
    doc: dict[str, Any] = {"lane": {"store": "S1", "lane": "1"}}
    doc.setdefault(table, {})[key] = value
    try:
        config.parse(doc, source="lane.toml")
    except ConfigError as e:
        assert str(e).startswith("lane.toml: ")


def test_awkward_values_in_every_key_give_a_config_or_a_config_error() -> None:
    for table, key in KEYS:
        for value in [*AWKWARD, ["x"], {"KEY_F1": ["PLU"]}, 10**18, -(10**18), float("nan")]:
            parse_one(table, key, value)


@pytest.mark.parametrize(("table", "key"), KEYS, ids=[f"{t}.{k}" for t, k in KEYS])
@settings(max_examples=25, deadline=None)
@given(value=toml_values)
def test_any_value_gives_a_config_or_a_config_error(table: str, key: str, value: Any) -> None:
    parse_one(table, key, value)


@given(
    st.one_of(
        st.text(max_size=40), st.from_regex(r"-?[0-9]{0,30}(\.[0-9]{0,30})?(e-?[0-9]{1,12})?")
    )
)
def test_an_amount_is_exact_minor_units_or_refused(text: str) -> None:
    doc = {"lane": {"store": "S1", "lane": "1"}, "sale": {"max_cash_tender": text}}
    try:
        minor = config.parse(doc).rules.max_cash_tender
    except ConfigError as e:
        assert "sale.max_cash_tender: " in str(e)
        return
    assert 0 <= minor < 10**config.MAX_AMOUNT_DIGITS
    assert Decimal(minor) == Decimal(text.strip().replace("_", "")).scaleb(2)


# --- the files the config names: what `config check` finds before `run` would -------------


def lane_toml(tmp_path: Path, extra: str = "") -> config.Config:
    data = tmp_path / "data"
    return config.load(
        write(tmp_path, f'[lane]\nstore = "S1"\nlane = "1"\ndata_dir = "{data}"\n{extra}')
    )


@pytest.mark.parametrize(
    "url",
    [
        "mqtt://store-server",
        "mqtt://broker.lan.:1883",
        "mqtt://my_broker.local",
        "mqtts://10.0.0.5:8883",
        "mqtt://[::1]:1883",
        "mqtt://[fe80::1%eth0]",
        "mqtt://xn--fiq228c.example",
    ],
)
def test_a_broker_name_or_address_is_taken(tmp_path: Path, url: str) -> None:
    assert lane_toml(tmp_path, f'[mqtt]\nurl = "{url}"\n').mqtt.url == url


def test_a_plain_config_has_no_file_problems(tmp_path: Path) -> None:
    assert check_files(lane_toml(tmp_path)) == []


def test_a_missing_tls_ca_file_is_named(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    c = lane_toml(tmp_path, f'[mqtt]\nurl = "mqtts://broker"\nca_file = "{ca}"\n')
    assert check_files(c) == [
        Problem(f"{c.path}: mqtt.ca_file: {ca}: no such file or directory", fatal=False)
    ]


def test_a_tls_file_that_is_no_certificate_is_named(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n", encoding="utf-8")
    c = lane_toml(tmp_path, f'[mqtt]\nurl = "mqtts://broker"\nca_file = "{ca}"\n')
    (problem,) = check_files(c)
    assert problem.text.startswith(f"{c.path}: mqtt.ca_file: {ca}: not a PEM certificate")
    assert not problem.fatal


def test_the_runtime_tls_error_names_the_file(tmp_path: Path) -> None:
    from firmware_app.sync.errors import LinkError
    from firmware_app.sync.mqtt_client import tls_context

    cert, key = tmp_path / "lane.crt", tmp_path / "lane.key"
    with pytest.raises(LinkError) as err:
        tls_context(config.MqttConfig(url="mqtts://broker", cert_file=str(cert), key_file=str(key)))
    assert str(err.value) == f"mqtt.cert_file: {cert}: no such file or directory"


def test_a_display_in_a_missing_directory_is_fatal(tmp_path: Path) -> None:
    device = tmp_path / "nope" / "screen"
    c = lane_toml(tmp_path, f'[display]\ndevice = "{device}"\n')
    assert check_files(c) == [
        Problem(f"{c.path}: display.device: {device}: directory {device.parent} does not exist")
    ]


def test_a_mistyped_display_under_dev_is_fatal_and_never_created(tmp_path: Path) -> None:
    device = "/dev/tty-lane-typo"
    c = lane_toml(tmp_path, f'[display]\ndevice = "{device}"\n')
    (problem,) = check_files(c)
    assert problem.fatal
    assert problem.text.startswith(f"{c.path}: display.device: {device}: no such device")
    assert not os.path.exists(device)


def test_a_data_dir_that_cannot_be_made_is_fatal(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    data = blocker / "data"
    c = config.load(write(tmp_path, f'[lane]\nstore = "S1"\nlane = "1"\ndata_dir = "{data}"\n'))
    assert check_files(c) == [
        Problem(f"{c.path}: lane.data_dir: {data}: {blocker} is not a directory")
    ]


def test_a_logo_that_is_no_picture_is_named_but_not_fatal(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_text("not a png", encoding="utf-8")
    c = lane_toml(tmp_path, f'[printer]\nlogo = "{logo}"\n')
    (problem,) = check_files(c)
    assert problem.text.startswith(f"{c.path}: printer.logo: {logo}: ")
    assert not problem.fatal


def test_a_disabled_device_needs_no_port(tmp_path: Path) -> None:
    text = (
        '[lane]\nstore = "S1"\nlane = "1"\n'
        '[scale]\nenabled = false\nport = ""\n[printer]\nenabled = false\nport = ""\n'
    )
    c = config.load(write(tmp_path, text))
    assert (c.scale.port, c.printer.port) == ("", "")


def test_the_display_is_never_created_under_dev_but_a_file_elsewhere_is(tmp_path: Path) -> None:
    from firmware_app.drivers.text_display import open_display

    with pytest.raises(FileNotFoundError):
        open_display("/dev/tty-lane-typo")
    assert not os.path.exists("/dev/tty-lane-typo")
    screen = open_display(str(tmp_path / "screen.txt"))
    try:
        screen.write("screen: [----]\n")
    finally:
        screen.close()
    assert (tmp_path / "screen.txt").read_text(encoding="utf-8") == "screen: [----]\n"


def test_a_display_that_will_not_open_at_start_is_a_config_error(tmp_path: Path) -> None:
    from firmware_app.app.bootstrap import LaneApp

    c = config.parse(
        {
            "lane": {"store": "S1", "lane": "1", "data_dir": str(tmp_path / "data")},
            "display": {"device": "/dev/tty-lane-typo"},
            "drawer": {"enabled": False},
        },
        source="lane.toml",
    )
    with pytest.raises(ConfigError) as err:
        LaneApp(c)
    assert str(err.value) == (
        "lane.toml: display.device: /dev/tty-lane-typo: no such file or directory"
    )


def test_the_payment_timeout_reaches_the_lane_rules() -> None:
    config_ = config.parse({"lane": {"store": "S1", "lane": "01"}, "payment": {"timeout_s": 45}})
    assert config_.payment.timeout_s == 45 and config_.rules.payment_timeout_s == 45
    with pytest.raises(config.ConfigError, match=r"payment.timeout_s"):
        config.parse({"lane": {"store": "S1", "lane": "01"}, "payment": {"timeout_s": 1}})


@pytest.mark.parametrize("name", ["YES", "NO", "PRICE", "DISC", "TRAINING"])
def test_every_key_name_of_the_keypad_spec_can_be_mapped(name: str) -> None:
    keypad = {"map": {"KEY_F1": name}}
    parsed = config.parse({"lane": {"store": "S1", "lane": "01"}, "keypad": keypad})
    assert parsed.keypad.keymap["KEY_F1"] == name


@pytest.mark.parametrize(
    ("ui", "reason"),
    [
        ({"listen": "0.0.0.0:8080"}, "ui.listen: 0.0.0.0:8080 is reachable from other machines"),
        ({"listen": "lane7:8080"}, "ui.listen: 'lane7' is not an IP address"),
        ({"listen": "127.0.0.1:0"}, "ui.listen: port '0' is not a number from 1 to 65535"),
        ({"listen": "127.0.0.1"}, 'ui.listen: expected "host:port"'),
        ({"token": "short"}, "ui.token: expected 16 to 128 letters and digits"),
        ({"language": "fr"}, "ui.language: expected one of zh, en"),
        ({"colour": "red"}, "ui.colour: unknown key"),
    ],
)
def test_a_bad_ui_section_leaves_the_lane_without_its_screen(ui: dict, reason: str) -> None:
    c = config.parse({"lane": {"store": "S1", "lane": "1"}, "ui": ui}, source="lane.toml")
    assert not c.ui.enabled
    assert c.ui_problem.startswith("lane.toml: ") and reason in c.ui_problem
    assert c.store == "S1"  # the rest of the config is whole


def test_the_screen_listens_beyond_loopback_only_with_a_token() -> None:
    ui = {"listen": "[::]:8080", "token": "a" * 32}
    c = config.parse({"lane": {"store": "S1", "lane": "1"}, "ui": ui})
    assert (c.ui.host, c.ui.port, c.ui.loopback, c.ui_problem) == ("::", 8080, False, "")
    c = config.parse({"lane": {"store": "S1", "lane": "1"}})
    assert (c.ui.enabled, c.ui.listen, c.ui.loopback) == (True, "127.0.0.1:8080", True)
