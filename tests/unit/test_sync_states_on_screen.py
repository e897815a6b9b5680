"""How the cashier sees the broker and the outbox: an unreachable broker only on the status
line (the lane sells offline by design), a refusing broker or a backlog as a short message
that sends for the technician."""

from __future__ import annotations

from firmware_app.drivers.text_display import render
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState
from firmware_app.lane.messages import Msg
from tests.unit.till import Till


def shown(till: Till, language: str = "en") -> str:
    assert till.state.message is not None
    return till.state.message.render(language)


def test_a_broker_out_of_reach_is_on_the_status_line_only() -> None:
    till = Till().do("signon", "scan 6954767410388")
    till.send(DeviceState(Device.BROKER, StateWord.ONLINE))
    assert till.message is Msg.ITEM_ADDED
    till.send(DeviceState(Device.BROKER, StateWord.OFFLINE, "127.0.0.1:1883: Connection refused"))
    assert till.message is Msg.ITEM_ADDED  # not a word to the cashier …
    assert "[broker: offline]" in render(till.state, till.setup, "en")  # … only the status line
    assert "服务器连接：离线" in render(till.state, till.setup, "zh")
    till.do("scan 6954767410388")
    assert till.state.sale is not None and len(till.state.sale.lines) == 2  # selling goes on
    till.send(DeviceState(Device.BROKER, StateWord.ONLINE))
    assert till.message is Msg.ITEM_ADDED
    assert "broker" not in render(till.state, till.setup, "en")


def test_a_refusing_broker_sends_for_the_technician_and_clears_when_it_takes_the_lane() -> None:
    till = Till().do("signon")
    till.send(DeviceState(Device.BROKER, StateWord.REFUSED, "Not authorized (135)"))
    assert till.message is Msg.CALL_TECHNICIAN
    assert shown(till) == "broker: refused, call a technician"
    assert shown(till, "zh") == "服务器连接：拒绝连接，请联系技术人员"
    # Between two attempts: the message stays
    till.send(DeviceState(Device.BROKER, StateWord.OFFLINE))
    assert till.message is Msg.CALL_TECHNICIAN
    till.send(DeviceState(Device.BROKER, StateWord.ONLINE))
    assert till.message is Msg.DEVICE_OK


def test_refused_publications_and_a_backlog_are_told_once() -> None:
    till = Till().do("signon")
    till.send(
        DeviceState(Device.BROKER, StateWord.NOT_AUTHORIZED, "Not authorized (135) on pos/…/sales")
    )
    assert shown(till) == "broker: not authorized, call a technician"
    assert shown(till, "zh") == "服务器连接：无权限，请联系技术人员"
    till.do("scan 6954767410388")
    till.send(DeviceState(Device.OUTBOX, StateWord.BACKLOG, "3210 messages waiting since …"))
    assert shown(till) == "outbox: backlog, call a technician"
    assert shown(till, "zh") == "待发送数据：积压，请联系技术人员"
    till.do("scan 6954767410388")
    till.send(DeviceState(Device.OUTBOX, StateWord.BACKLOG, "3300 messages waiting since …"))
    assert till.message is Msg.ITEM_ADDED  # the same state again: nothing new to say
    line = render(till.state, till.setup, "en")
    assert "broker: not authorized" in line and "outbox: backlog" in line
    till.send(DeviceState(Device.OUTBOX, StateWord.OK))
    assert till.message is Msg.ITEM_ADDED  # the cashier has moved on: left alone
    assert dict(till.state.devices) == {"broker": "not_authorized", "outbox": "ok"}


def test_the_change_to_hand_back_stays_on_screen() -> None:
    till = Till().do("signon", "scan 6954767410388", "key 1 0 CASH")
    assert till.message is Msg.CHANGE
    till.send(DeviceState(Device.OUTBOX, StateWord.BACKLOG))
    assert till.message is Msg.CHANGE
    assert "outbox: backlog" in render(till.state, till.setup, "en")
