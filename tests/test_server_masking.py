"""Card numbers, passwords and secrets never reach stored transcripts, handoff packets or logs; e-mails and
phone numbers are masked when the settings ask for it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tactful.service.masking import MaskingFilter
from tests.server_helpers import in_process, service_settings

CARD = "4242 4242 4242 4242"
SECRET_TEXT = f"let me talk to a person, my card {CARD} and my password is hunter2hunter"


def stored_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data_dir.glob("tactful.db*"))


async def test_stored_transcript_packet_and_database_hold_no_card_or_password(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        turn = (await client.post("/v1/conversations/c1/messages", json={"text": SECRET_TEXT})).json()
        conversation = (await client.get("/v1/conversations/c1")).json()
        handoff = (await client.get("/v1/handoffs")).json()["items"][0]
    user_text = conversation["messages"][0]["text"]
    assert CARD not in user_text and "hunter2hunter" not in user_text
    assert "[CARD •••• 4242]" in user_text and "[PASSWORD]" in user_text
    for packet in (turn["handoff"], handoff["packet"]):
        dumped = str(packet)
        assert CARD not in dumped and "hunter2hunter" not in dumped
    raw = stored_bytes(tmp_path)
    assert CARD.encode() not in raw and CARD.replace(" ", "").encode() not in raw
    assert b"hunter2hunter" not in raw


async def test_emails_and_phones_are_masked_when_the_settings_ask(tmp_path: Path) -> None:
    text = "reach me at dana@example.com or +1 415 555 0134"
    async with in_process(service_settings(tmp_path / "on", mask_emails=True, mask_phones=True)) as (
        _,
        client,
    ):
        await client.post(
            "/v1/conversations/c1/messages", json={"text": text, "context": {"name": "dana@example.com"}}
        )
        on = (await client.get("/v1/conversations/c1")).json()
    async with in_process(service_settings(tmp_path / "off")) as (_, client):
        await client.post("/v1/conversations/c1/messages", json={"text": text})
        off = (await client.get("/v1/conversations/c1")).json()
    assert on["messages"][0]["text"] == "reach me at [EMAIL] or [PHONE]"
    assert on["state"]["context"]["name"] == "[EMAIL]"
    assert off["messages"][0]["text"] == text


def test_the_logging_filter_masks_messages(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tactful.test-masking")
    handler_filter = MaskingFilter()
    logger.addFilter(handler_filter)
    try:
        with caplog.at_level("INFO", logger="tactful.test-masking"):
            logger.info("customer wrote %s", f"card {CARD}")
    finally:
        logger.removeFilter(handler_filter)
    assert CARD not in caplog.text
    assert "[CARD •••• 4242]" in caplog.text
