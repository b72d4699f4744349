"""campaign-engine: B2B email campaigns run the way a sales and marketing team works them."""

from campaign_engine.core.config import Settings, load_settings
from campaign_engine.core.errors import CampaignEngineError
from campaign_engine.engine.tick import Ticker, TickReport
from campaign_engine.store.db import Database

__all__ = [
    "CampaignEngineError",
    "Database",
    "Settings",
    "TickReport",
    "Ticker",
    "load_settings",
]
__version__ = "0.1.0"
