"""campaign-engine: B2B email campaigns run the way a sales and marketing team works them."""

from .config import Settings, load_settings
from .db import Database
from .dispatcher import Dispatcher, TickReport
from .errors import CampaignEngineError

__all__ = [
    "CampaignEngineError",
    "Database",
    "Dispatcher",
    "Settings",
    "TickReport",
    "load_settings",
]
__version__ = "0.1.0"
