"""Rules of the lane that devices bring: legal-for-trade weighing, the drawer left open,
no new sale while the drawer is open, reprints."""

from __future__ import annotations

from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.effects import PrintReceipt, RecordEvent
from firmware_app.lane.messages import Msg
from tests.unit.till import Till, setup_with


def test_the_load_must_change_before_the_next_weighing() -> None:
    till = Till().do("signon", "scale 0.532", "key 1 PLU")
    till.do("key 1 PLU")
    assert till.message is Msg.SCALE_SAME_WEIGHT
    # Jiggled, a moment of silence or an error proves no new load.
    # A refusal keeps the entry: PLU alone tries the same item again.
    for blip in ("scale moving", "scale silent", "scale error", "scale over"):
        till.do(blip, "scale 0.532", "key PLU")
        assert till.message is Msg.SCALE_SAME_WEIGHT, blip
    till.do("scale 0", "scale 0.532", "key PLU")  # lifted off and put back: weighed anew
    assert till.message is Msg.ITEM_ADDED
    till.do("scale under", "scale 0.532", "key 1 PLU")  # lifted while tared: below zero
    assert till.message is Msg.ITEM_ADDED
    till.do("scale 0", "scale 0.6", "key 1 PLU")  # another item: a different weight
    assert till.message is Msg.ITEM_ADDED
    assert till.state.sale is not None and len(till.state.sale.lines) == 4


def test_labels_and_counted_items_are_not_weighings() -> None:
    till = Till().do("signon", "scale 0.532", "key 1 PLU", "scan 2100001005320")
    assert till.message is Msg.ITEM_ADDED  # the label scale weighed it
    till.do("scan 6954767410388", "key 1 PLU")
    assert till.message is Msg.SCALE_SAME_WEIGHT


def test_no_sale_below_the_minimum_weight() -> None:
    till = Till(setup=setup_with(min_weight_g=40)).do("signon", "scale 0.039", "key 1 PLU")
    assert till.message is Msg.SCALE_BELOW_MIN
    assert till.state.message is not None and till.state.message.arg("min") == "0.040"
    till.do("scale 0.040", "key PLU")  # the refused PLU is still keyed
    assert till.message is Msg.ITEM_ADDED


def test_a_drawer_left_open_raises_one_alert() -> None:
    till = Till(setup=setup_with(drawer_alert_s=60)).do("signon", "drawer open", "wait 59", "tick")
    assert till.effects == [] and till.message is not Msg.DRAWER_LEFT_OPEN
    till.do("wait 2", "tick")
    assert till.message is Msg.DRAWER_LEFT_OPEN
    (alarm,) = till.effects
    assert isinstance(alarm, RecordEvent) and alarm.event.type == "drawer_alarm"
    assert dict(alarm.event.details)["open_s"] == "61"
    till.do("wait 60", "tick")
    assert till.effects == []  # once per opening
    till.do("drawer closed", "drawer open", "wait 61", "tick")
    assert [type(e) for e in till.effects] == [RecordEvent]


def test_no_new_sale_while_the_drawer_is_open_when_configured() -> None:
    till = Till(setup=setup_with(block_sale_while_open=True)).do("signon", "drawer open")
    till.do("scan 6954767410388")
    assert till.message is Msg.DRAWER_OPEN and till.state.sale is None
    till.do("key 1 PLU")
    assert till.message is Msg.DRAWER_OPEN
    till.do("drawer closed", "scan 6954767410388", "drawer open", "scan 6954767410388")
    assert till.state.sale is not None and len(till.state.sale.lines) == 2  # a sale goes on


def test_reprint_is_the_last_receipt_marked_as_a_copy() -> None:
    till = Till().do("signon", "scan 6954767410388", "key 1 0 CASH")
    original = next(e.receipt for e in till.effects if isinstance(e, PrintReceipt))
    till.do("key REPRINT")
    event, printed = till.effects
    assert isinstance(printed, PrintReceipt)
    assert printed.receipt.banner == "副本 COPY"
    assert printed.receipt.lines == original.lines and printed.receipt.number == 1
    assert isinstance(event, RecordEvent) and dict(event.event.details) == {"receipt": "1"}


def test_device_problems_are_shown_and_cleared() -> None:
    from firmware_app.drivers.text_display import render
    from firmware_app.lane.events import DeviceState

    till = Till().do("signon", "scan 6954767410388")
    till.send(
        DeviceState(Device.PRINTER, StateWord.PAPER_OUT, "/dev/lane-printer: DLE EOT 4 = 0x7e")
    )
    assert till.message is Msg.DEVICE_PROBLEM
    assert till.state.message is not None
    assert till.state.message.render("en") == "printer: paper out"
    assert till.state.message.render("zh") == "打印机：缺纸"
    assert "[printer: paper out]" in render(till.state, till.setup, "en")
    assert till.state.sale is not None and len(till.state.sale.lines) == 1  # the sale goes on
    # The same again: nothing new to say
    till.send(DeviceState(Device.PRINTER, StateWord.PAPER_OUT))
    till.do("scan 6954767410388")
    till.send(DeviceState(Device.PRINTER, StateWord.OK))
    assert till.message is Msg.ITEM_ADDED  # not the printer's message any more: left alone
    till.send(DeviceState(Device.SCALE, StateWord.SILENT))
    till.send(DeviceState(Device.SCALE, StateWord.OK))
    assert till.message is Msg.DEVICE_OK
    assert dict(till.state.devices) == {"printer": "ok", "scale": "ok"}
    assert "paper out" not in render(till.state, till.setup, "en")


def test_the_scales_answer_to_zero_and_tare_is_shown() -> None:
    from firmware_app.lane.events import ScaleCommandResult
    from firmware_app.lane.weighing import ScaleCommand, ScaleDone, ScaleRefusal

    till = Till().do("signon", "key ZERO")
    assert till.message is Msg.SCALE_COMMAND
    till.send(ScaleCommandResult.obeyed(ScaleCommand.ZERO, ScaleDone.ZEROED))
    assert till.message is Msg.SCALE_RESULT
    assert till.state.message is not None and till.state.message.render("zh") == "秤：已归零"
    till.send(ScaleCommandResult.refused(ScaleCommand.TARE, ScaleRefusal.MOVING))
    assert till.message is Msg.SCALE_REFUSED
    assert till.state.message is not None
    assert till.state.message.render("en") == "Scale refused tare: moving"
    assert till.state.message.render("zh") == "秤拒绝去皮：秤在晃动"


def test_receipts_waiting_for_the_printer_are_told_without_hiding_the_change() -> None:
    from firmware_app.drivers.text_display import render
    from firmware_app.lane.events import DeviceState, ReceiptsPending

    till = Till().do("signon", "scan 6954767410388")
    till.send(DeviceState(Device.PRINTER, StateWord.PAPER_OUT))
    till.send(ReceiptsPending(1))
    assert till.message is Msg.RECEIPT_PENDING and till.state.receipts_pending == 1
    assert till.state.message is not None
    assert till.state.message.render("zh") == "打印机缺纸：小票已保留，恢复后打印（1张）"
    till.send(ReceiptsPending(0))
    assert till.message is Msg.RECEIPTS_PRINTED
    till.do("key 1 0 CASH")
    assert till.message is Msg.CHANGE
    till.send(DeviceState(Device.DRAWER, StateWord.JAMMED))
    till.send(ReceiptsPending(2))
    assert till.message is Msg.CHANGE  # the change to hand back stays
    line = render(till.state, till.setup, "en")
    assert line.endswith("[drawer: jammed; printer: paper out; receipts to print: 2]")
