"""TLS to the relay as an operator with a private CA meets it: STARTTLS or an SMTPS port, the
certificate checked against `ca_file`, and an unknown certificate is a pause, never a lost or
suppressed email."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from campaign_engine.core.config import Settings
from campaign_engine.core.kinds import MessageState
from campaign_engine.engine.doctor import smtp_session
from campaign_engine.sending.relay_state import current_pause, describe_pause
from campaign_engine.store.db import Database
from tests.delivery_setup import DAY1, launch_smb, point_at, states, suppressed
from tests.faultrelay import fault_relay
from tests.helpers import tick
from tests.tls_certs import private_ca_relay

EMAILS = ["ana@smb.example", "bo@smb.example", "cy@smb.example"]


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "smtps"])
def test_the_private_ca_in_ca_file_lets_every_email_go_out_encrypted(
    settings: Settings, db: Database, tmp_path: Path, implicit: bool
) -> None:
    ca_file, certificate = private_ca_relay(tmp_path)
    with fault_relay(tls=certificate, implicit_tls=implicit) as relay:
        mode = {"use_tls": True} if implicit else {"starttls": True}
        settings = point_at(settings, relay.port, ca_file=str(ca_file), **mode)
        launch_smb(db, settings, EMAILS, tmp_path)
        tick(db, settings, DAY1)

        assert sorted(relay.arrived()) == EMAILS
        assert relay.encrypted == [True] * len(EMAILS)
        assert states(db) == {MessageState.SENT: len(EMAILS)}

        checks = asyncio.run(smtp_session(settings, "gitlab-demo.example"))
        assert {check.level for check in checks} == {"ok"}, checks
        if not implicit:
            assert "STARTTLS: 220 Ready to start TLS; certificate checked" in [
                c.detail for c in checks
            ]


def test_a_certificate_from_an_unknown_ca_pauses_sending_until_ca_file_is_set(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    ca_file, certificate = private_ca_relay(tmp_path)
    with fault_relay(tls=certificate) as relay:
        unverified = point_at(settings, relay.port, starttls=True)
        launch_smb(db, unverified, EMAILS, tmp_path)
        tick(db, unverified, DAY1)

        assert relay.received == []
        assert states(db) == {MessageState.QUEUED: len(EMAILS)}
        assert suppressed(db) == set()
        line = describe_pause(current_pause(db), unverified, DAY1)
        assert line.startswith("sending paused since 09:00"), line
        assert "CERTIFICATE_VERIFY_FAILED" in line, line
        assert line.endswith(
            "; for a private CA set [smtp] ca_file, or tls_verify = false on a "
            "trusted network, or run `campaign relay resume` once fixed"
        ), line
        doctor = asyncio.run(smtp_session(unverified, "gitlab-demo.example"))[-1]
        assert doctor.level == "error" and "set [smtp] ca_file" in doctor.detail, doctor

        fixed = point_at(settings, relay.port, starttls=True, ca_file=str(ca_file))
        tick(db, fixed, DAY1.replace(hour=10))

        assert sorted(relay.arrived()) == EMAILS
        assert set(relay.arrived().values()) == {1}
        assert current_pause(db) is None


def test_tls_verify_false_still_encrypts_to_a_self_signed_relay(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    _, certificate = private_ca_relay(tmp_path)
    with fault_relay(tls=certificate) as relay:
        settings = point_at(settings, relay.port, starttls=True, tls_verify=False)
        launch_smb(db, settings, EMAILS, tmp_path)
        tick(db, settings, DAY1)

        assert sorted(relay.arrived()) == EMAILS
        assert relay.encrypted == [True] * len(EMAILS)
