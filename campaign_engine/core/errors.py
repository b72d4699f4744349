"""One exception tree for the engine.

CampaignEngineError
 ├── ConfigError          config.toml or environment is wrong
 ├── SchemaError          the database cannot be brought to this version's schema
 ├── SequenceError        a sequence or template is malformed (refused before anything is queued)
 ├── ImportRejected       a CSV had rejected rows (valid rows were still applied)
 ├── InvalidInput         a form field or argument is malformed or too long
 ├── UnreadableFile       a CSV cannot be decoded in the chosen encoding
 ├── NotFound             a named campaign, contact, draft... does not exist
 └── TransportError       the mail relay refused or failed
      ├── TransientSendError   4xx or connection trouble: retry later
      └── PermanentSendError   5xx: bounce, suppress the address
"""

from __future__ import annotations

__all__ = [
    "CampaignEngineError",
    "ConfigError",
    "ImportRejected",
    "InvalidInput",
    "NotFound",
    "PermanentSendError",
    "SchemaError",
    "SequenceError",
    "TransientSendError",
    "TransportError",
    "UnreadableFile",
]


class CampaignEngineError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(CampaignEngineError, ValueError):
    """The configuration is invalid; the message names the file and the setting."""


class SchemaError(CampaignEngineError):
    """The database schema cannot be migrated; the message says what to do."""


class SequenceError(CampaignEngineError, ValueError):
    """A sequence or one of its templates is malformed; nothing was queued."""


class ImportRejected(CampaignEngineError):
    """Some CSV rows were rejected; the valid ones were applied."""


class UnreadableFile(CampaignEngineError, ValueError):
    """A CSV does not decode in the chosen encoding; nothing of it was applied past that point."""


class NotFound(CampaignEngineError, LookupError):
    """The named object does not exist."""


class TransportError(CampaignEngineError):
    """Sending failed."""


class TransientSendError(TransportError):
    """The relay answered 4xx or the connection failed: the message is retried with back-off."""


class PermanentSendError(TransportError):
    """The relay answered 5xx: the message bounced and the address is suppressed."""


class InvalidInput(CampaignEngineError, ValueError):
    """A form field or argument is malformed or too long; the message names it and the limit."""
