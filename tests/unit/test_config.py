"""The config file: the example loads, and every mistake names the file, key and reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import firmware_app
from firmware_app import config
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
