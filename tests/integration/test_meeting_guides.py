"""Every item of the play's meeting guides (both versions) is in the sequence files and reaches
the rep: the alert after email 2 and after email 3, received over SMTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign_engine.core.config import Settings
from campaign_engine.reps.contact_requests import RequestForm, record_contact_request
from campaign_engine.sending.sequences import load_sequence
from campaign_engine.store.db import Database
from tests.conftest import ROOT, SmtpSink
from tests.helpers import text_of, tick
from tests.integration.test_digests import DANA, at, campaign  # noqa: F401  (campaign: a fixture)
from tests.integration.test_rep_mail_on_a_phone import message_id

CISO_DECK = "https://docs.google.com/presentation/d/1MfdWk90O9N191MNpSvp3_GuJiAPiIQWovdPoYLeDJ9M"
CONTAINER_DECK = (
    "https://docs.google.com/presentation/d/1xLBQljc6yRtG8ENGwjX9I7LgGj-ShtjaARZPY9WbtQs"
)
DARWIN = "https://docs.google.com/spreadsheets/d/1wVghmLv3E_IKs7rz-quc6jtjZW0p-u3h4iSaDqmm1Nc"


@pytest.mark.parametrize(
    ("key", "meeting_3_steps", "ciso_deck"),
    [
        (
            "premium-to-ultimate",  # v2 of the play
            "Do NOT push for a POV",
            f"Value framework slide (in the CISO deck): {CISO_DECK}/edit#slide=id.gca94c05912_0_1521",
        ),
        (
            "premium-to-ultimate-personas",  # v1
            "Ask for a POV to prove value unique to this customer",
            "Security CISO deck (includes the ROI framework slide): https://docs.google.com/",
        ),
    ],
)
def test_both_versions_of_the_play_carry_every_item_of_their_meeting_guides(
    key: str, meeting_3_steps: str, ciso_deck: str
) -> None:
    sequence = load_sequence(ROOT / "sequences", key)
    one, two, three = (sequence.step(n).guide for n in (1, 2, 3))
    assert one is not None and two is not None and three is not None
    assert len(one.questions) == 4 and len(one.assets) == 3
    assert "Your SA: schedule the deep dive with them" in two.people
    assert any("Sam White, PM" in p for p in two.people)
    risk = " ".join(two.priorities["vulnerabilities/risk"])
    assert "For securing modern apps via containers: Container security" in risk
    assert any(a.startswith(ciso_deck) for a in three.assets)
    assert any(DARWIN in r for r in three.roi)
    assert any(meeting_3_steps in s for s in three.next_steps)
    assert [s.split(" ")[0] for s in three.pov_steps] == ["Define", "Execute", "Measure", "Propose"]
    for guide in (one, two, three):
        assert len(guide.checklist) == 6 and guide.checklist[-1] == "Proposal"
    if key == "premium-to-ultimate":
        assert CONTAINER_DECK in risk
        assert "hands-on workshop, POV" in " ".join(three.next_steps)


@pytest.mark.usefixtures("campaign")
def test_the_alerts_after_email_2_and_3_carry_the_whole_guide(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    tick(db, settings, at(5, 4, 9))  # email 2
    tick(db, settings, at(5, 11, 9))  # email 3 to those who have not asked
    form = RequestForm("Let's talk.")
    for who, step in (("grace@tiny.example", 2), ("hal@small.example", 3)):
        record_contact_request(
            db, settings, at(5, 11, 10), message_id=message_id(db, who, step), form=form
        )
    tick(db, settings, at(5, 11, 10, 1))
    alerts = {str(m["Subject"]): text_of(m) for m in smtp_sink.to(DANA)}
    two = " ".join(alerts["Contact request: Grace Hopper, Tiny Co (email 2)"].split())
    three = alerts["Contact request: Hal Jordan, Small Co (email 3)"].replace("\r\n", "\n")
    assert "Container security deck (Sam White, PM) " + CONTAINER_DECK in two
    assert "People to bring or ask: - Your SA: schedule the deep dive with them" in two
    for line in (
        "  ROI:\n  - If a more detailed ROI is needed, Darwin Sanoy's model\n    " + DARWIN,
        "  - Determine if additional steps are needed for solutions alignment (e.g., additional"
        " demonstrations, hands-on workshop, POV)\n",
        "  POV agreement (if a POV is requested and necessary):\n  1. Define POV requirements",
        "  4. Propose the solution: ask for the order and for a reference\n",
        "  - Value framework slide (in the CISO deck)\n    " + CISO_DECK,
        "  Milestones checklist (the play's measure of progress):\n"
        "  [ ] Gameplan with GitLab champion (MEDDPPICC)\n",
        "  [ ] Proposal\n",
    ):
        assert line in three, line
