"""Rehearsals: a campaign run whole in simulated time on a scratch copy of the database."""

from campaign_engine.engine.rehearsal.model import LaunchOptions, Rehearsal, recipients_csv
from campaign_engine.engine.rehearsal.rehearse import SAMPLES_DIR, rehearse

__all__ = ["SAMPLES_DIR", "LaunchOptions", "Rehearsal", "recipients_csv", "rehearse"]
