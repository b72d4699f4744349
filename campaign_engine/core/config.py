"""config.toml plus CAMPAIGN_* environment overrides, read into one frozen Settings object.

The file is found the way command-line tools find theirs: --config, $CAMPAIGN_CONFIG, the
nearest config.toml up the directory tree, then the user config folder."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campaign_engine.core.errors import ConfigError
from campaign_engine.core.pacing_config import PacingSettings, pacing_settings

__all__ = [
    "DEFAULT_RELAY",
    "BrakesSettings",
    "DkimSettings",
    "InboxSettings",
    "RepsSettings",
    "Settings",
    "SmtpSettings",
    "WarmupSettings",
    "find_config",
    "load_settings",
    "user_config_path",
]

ENV_PREFIX = "CAMPAIGN_"
DEFAULT_CONFIG = "config.toml"
APP_FOLDER = "campaign-engine"  # in the user config folder
DEFAULT_RELAY = "main"  # the name of the one relay a plain [smtp] table describes
_RELAY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_RELAY_ONLY = ("name", "weight", "domains")  # which relay it is, not how to talk to it
MIN_REMINDER_DAYS, MAX_REMINDER_DAYS = 7, 10  # "send the next email after 7-10 days"
_ADDRESS_KEYS = {
    "unsubscribe_mailto": "unsubscribe@example.com",
    "reply_to": "replies@example.com",
    "bounce_address": "bounces@example.com",
}


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach one SMTP relay, and how hard to push it."""

    name: str = DEFAULT_RELAY  # in `campaign relay status`, the console, /metrics
    weight: float = 1.0  # its share of the mail, against the other relays' weights
    domains: tuple[str, ...] = ()  # the From domains it may carry; () = any
    host: str = "127.0.0.1"
    port: int = 1025
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    use_tls: bool = False
    timeout: float = 30.0  # seconds
    concurrency: int = 4  # parallel SMTP connections
    rate_limit: float = 0.0  # messages per second, all workers together; 0 = unlimited
    tls_verify: bool = True  # check the relay's certificate (name and chain)
    ca_file: str = ""  # PEM file of the CA that signed the relay's certificate (private CA)
    ehlo_name: str = ""  # name we give at EHLO; "" = this host's FQDN, else the From domain
    probe_rcpt: str = ""  # `campaign doctor`'s RCPT TO (nothing is sent); "" = the From address
    max_messages_per_connection: int = 100  # then the connection is closed and a new one opened
    max_connection_age_seconds: float = 300.0  # a pooled connection older than this is replaced

    def fingerprint(self) -> str:
        """A digest of every setting that decides how we talk to the relay: a pause for a
        permanent-looking fault (a wrong password) lifts itself when this changes."""
        ignored = ("probe_rcpt", *_RELAY_ONLY)  # doctor's, and which relay it is
        fields = [f.name for f in dataclasses.fields(self) if f.name not in ignored]
        text = repr(sorted((name, str(getattr(self, name))) for name in fields))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def carries(self, domain: str) -> bool:
        """Whether mail From `domain` may go through this relay."""
        return not self.domains or domain.lower() in self.domains


@dataclass(frozen=True)
class DkimSettings:
    """DKIM signing of every outgoing message; off while selector, domain or key is unset."""

    selector: str = ""
    domain: str = ""
    private_key_path: Path | None = None
    # Optional second signature (RFC 8463); receivers that know Ed25519 check it too.
    ed25519_selector: str = ""
    ed25519_private_key_path: Path | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.selector and self.domain and self.private_key_path)


@dataclass(frozen=True)
class InboxSettings:
    """The IMAP mailbox that receives replies, bounces and complaints; off while host is unset."""

    host: str = ""
    port: int = 993
    use_tls: bool = True  # implicit TLS (port 993)
    starttls: bool = False  # plain connection upgraded with STARTTLS (port 143)
    username: str = ""
    password: str = field(default="", repr=False)
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    unmatched_folder: str = "Unmatched"
    failed_folder: str = "Failed"  # mail that could not be handled in 3 polls
    reports_per_domain_hour: int = 100  # bounces, complaints... acted on per sender domain; 0: any
    timeout: float = 30.0  # seconds

    @property
    def enabled(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class RepsSettings:
    """Who hears of a contact whose account no rep owns."""

    # Addresses (comma-separated) alerted when no rep owns the account; "" = the console's
    # ops users.
    unassigned_to: str = ""

    @property
    def fallback(self) -> list[str]:
        """The configured fallback addresses, lower-cased, in order."""
        return [a.strip().lower() for a in self.unassigned_to.split(",") if a.strip()]


@dataclass(frozen=True)
class WarmupSettings:
    """The ramp of a new sending domain (the From address's): off while start_per_day is 0."""

    start_per_day: int = 0  # campaign emails the domain may send on its first day; 0 = no ramp
    growth: float = 1.5  # each next day allows this many times the day before
    started: str = ""  # YYYY-MM-DD, the ramp's day 0; "" = the day the engine first sent

    @property
    def enabled(self) -> bool:
        return self.start_per_day > 0

    @property
    def started_on(self) -> date | None:
        return date.fromisoformat(self.started) if self.started else None

    def problem(self) -> str | None:
        """What is wrong with these values, or None."""
        if self.start_per_day < 0:
            return f"start_per_day must be 0 (no warm-up) or more, not {self.start_per_day}"
        if self.growth < 1:
            return f"growth must be 1 (a flat daily cap) or more, not {self.growth}"
        try:
            date.fromisoformat(self.started or "2000-01-01")
        except ValueError:
            return f"started must be a day like 2026-01-31, not {self.started!r}"
        return None


@dataclass(frozen=True)
class BrakesSettings:
    """When a campaign pauses itself: its hard bounces or complaints over its last sends."""

    window: int = 500  # the last N sends judged, per campaign and per sending domain
    min_sends: int = 100  # rates are taken over at least this many sends
    bounce_pause_rate: float = 0.05  # hard bounces per send that pause (Amazon SES reviews at 5%)
    complaint_pause_rate: float = 0.003  # complaints per send that pause (Gmail/Yahoo: 0.3%)


@dataclass(frozen=True)
class Settings:
    """Every setting of the engine; paths are absolute (resolved against the config file)."""

    config_path: Path
    database_url: str = "sqlite:///var/campaign.db"
    transport: str = "outbox"
    outbox_dir: Path = Path("var/outbox")
    rehearsals_dir: Path = Path("var/rehearsals")  # the console's rehearsals (results, samples)
    from_address: str = "Campaigns <campaigns@example.com>"
    timezone: str = "UTC"
    tracking_base_url: str = "http://127.0.0.1:8080"
    secret: str = field(default="", repr=False)
    company_name: str = "Example Corp"
    postal_address: str = ""
    unsubscribe_mailto: str = ""  # optional mailto target in List-Unsubscribe (an ops mailbox)
    reply_to: str = ""  # Reply-To of marketing mail (the inbox mailbox); "" = the owning rep
    reply_subaddress: bool = False  # Reply-To replies+TAG@...: a signed tag per message
    bounce_address: str = ""  # VERP envelope sender bounces+TAG@...; "" = the From address
    inbox_poll_seconds: float = 300.0  # `campaign run`: seconds between inbox polls
    sequences_dir: Path = Path("sequences")
    templates_dir: Path = Path("templates")
    tick_seconds: float = 60.0  # seconds between scheduler ticks
    window_start: time = time(9, 0)
    window_end: time = time(17, 0)
    batch_size: int = 500  # messages claimed per batch
    max_per_tick: int = 20000  # cap so a catch-up after downtime does not burst the backlog
    lease_seconds: float = 300.0  # how long a claimed batch stays ours before it is presumed lost
    retry_base_seconds: float = 300.0  # first back-off after a 4xx; doubles per attempt
    retry_max_seconds: float = 3600.0  # the back-off stops growing here
    give_up_after_hours: float = (
        72.0  # a message still refused (4xx) this long after its first try fails
    )
    max_pause_seconds: float = 900.0  # longest wait between two tries of a relay that is down
    stop_grace_seconds: float = 20.0  # on SIGINT/SIGTERM, how long SMTP in flight may finish
    bot_delay_seconds: float = 10.0  # tracking hits this soon after delivery are machines
    bot_burst_seconds: float = 2.0  # every link of a message hit within this span: a scanner
    reminder_days: int = 7  # days after a rep's email N until they are reminded to send N+1
    max_marketing_per_week: int = 2  # marketing emails per contact in any 7 days; 0 = no cap
    recount_seconds: float = 60.0  # console: dashboard and campaign counts are this fresh at most
    smtp: SmtpSettings = SmtpSettings()  # [smtp]: the one relay, or every relay's defaults
    smtp_relays: tuple[SmtpSettings, ...] = ()  # [[smtp.relays]], when there are several
    dkim: DkimSettings = DkimSettings()
    inbox: InboxSettings = InboxSettings()
    reps: RepsSettings = RepsSettings()
    warmup: WarmupSettings = WarmupSettings()
    pacing: PacingSettings = field(default_factory=PacingSettings)  # per mailbox provider
    brakes: BrakesSettings = BrakesSettings()

    def __repr__(self) -> str:
        """Every setting but secrets: the database URL's password is masked, the HMAC secret and
        the SMTP password are left out (logs and tracebacks print this)."""

        def shown(name: str) -> str:
            value = getattr(self, name)
            return _redact_url(value) if name == "database_url" else repr(value)

        fields = (f"{f.name}={shown(f.name)}" for f in dataclasses.fields(self) if f.repr)
        return f"Settings({', '.join(fields)})"

    @property
    def relays(self) -> tuple[SmtpSettings, ...]:
        """The relays mail goes through: each [[smtp.relays]], else [smtp] as the one relay."""
        return self.smtp_relays or (self.smtp,)

    @property
    def from_domain(self) -> str:
        """The domain of the `from` address, as written ("" when it has none)."""
        return parseaddr(self.from_address)[1].rpartition("@")[2]

    @property
    def connections(self) -> int:
        """SMTP connections open at once when every relay is busy."""
        return sum(max(1, relay.concurrency) for relay in self.relays)

    def __post_init__(self) -> None:
        if self.transport not in ("smtp", "outbox"):
            raise ConfigError(
                f"{self.config_path}: transport must be 'smtp' or 'outbox', not {self.transport!r}"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"{self.config_path}: timezone {self.timezone!r} is not an IANA time zone"
            ) from exc
        if self.window_start >= self.window_end:
            raise ConfigError(f"{self.config_path}: window_start must be before window_end")
        if not MIN_REMINDER_DAYS <= self.reminder_days <= MAX_REMINDER_DAYS:
            raise ConfigError(
                f"{self.config_path}: reminder_days must be {MIN_REMINDER_DAYS} to"
                f" {MAX_REMINDER_DAYS} (the sales play's cadence), not {self.reminder_days}"
            )
        for key, example in _ADDRESS_KEYS.items():
            value = getattr(self, key)
            if value and not re.fullmatch(r"[^@\s<>,+]+@[^@\s<>,]+", value):
                raise ConfigError(
                    f"{self.config_path}: {key} must be a bare address like {example}"
                    f" (no display name, no +tag), not {value!r}"
                )
        if self.retry_base_seconds <= 0 or self.retry_max_seconds < self.retry_base_seconds:
            raise ConfigError(
                f"{self.config_path}: retry_base_seconds must be positive and at most"
                f" retry_max_seconds ({self.retry_base_seconds} > {self.retry_max_seconds})"
            )
        if self.max_marketing_per_week < 0:
            raise ConfigError(
                f"{self.config_path}: max_marketing_per_week must be 0 (no cap) or more,"
                f" not {self.max_marketing_per_week}"
            )
        if self.inbox.reports_per_domain_hour < 0:
            raise ConfigError(
                f"{self.config_path}: [inbox] reports_per_domain_hour must be 0 (no limit) or"
                f" more, not {self.inbox.reports_per_domain_hour}"
            )
        if (warmup := self.warmup.problem()) is not None:
            raise ConfigError(f"{self.config_path}: [warmup] {warmup}")
        if self.recount_seconds < 0:
            raise ConfigError(
                f"{self.config_path}: recount_seconds must be 0 (count on every request) or more,"
                f" not {self.recount_seconds}"
            )
        scheme = self.database_url.partition(":")[0].lower()
        if scheme not in _DATABASE_SCHEMES:
            raise ConfigError(
                f"{self.config_path}: database_url {_redact_url(self.database_url)} is not"
                " supported: use sqlite:///path/to/file.db or"
                " postgresql://user:password@host:5432/dbname (CAMPAIGN_DATABASE_URL)"
            )
        for address in self.reps.fallback:
            if not re.fullmatch(r"[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+", address):
                raise ConfigError(
                    f"{self.config_path}: [reps] unassigned_to must be addresses separated by"
                    f" commas, like sales-ops@example.com, not {address!r}"
                )
        _check_relays(self.config_path, self.relays)
        brakes = self.brakes
        if brakes.window < 1 or not 1 <= brakes.min_sends <= brakes.window:
            raise ConfigError(
                f"{self.config_path}: [brakes] window must be 1 or more and min_sends 1 to window"
                f" (window {brakes.window}, min_sends {brakes.min_sends})"
            )
        for key in ("bounce_pause_rate", "complaint_pause_rate"):
            if not 0 <= getattr(brakes, key) <= 1:
                raise ConfigError(
                    f"{self.config_path}: [brakes] {key} is a fraction from 0 (never pause) to 1"
                    f" (0.05 is 5%), not {getattr(brakes, key)}"
                )
        if not self.secret:
            raise ConfigError(
                f"{self.config_path}: 'secret' is empty; set it (or CAMPAIGN_SECRET) to a long random"
                " string: it signs every tracking link"
            )


def load_settings(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Read the config file `find_config` names, then apply CAMPAIGN_* environment overrides.

    With no file anywhere, settings come from the environment alone when it sets
    CAMPAIGN_SECRET (a container's way); otherwise one line says where we looked."""
    env = os.environ if environ is None else environ
    here = (cwd or Path.cwd()).resolve()
    config_path = find_config(path, env, here)
    if config_path is None:
        if ENV_PREFIX + "SECRET" not in env:
            raise ConfigError(_not_found_message(env, here))
        return _build(here / DEFAULT_CONFIG, {}, env)
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_path}: {exc}") from exc
    return _build(config_path, raw, env)


def find_config(path: str | Path | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """The config file: --config, else $CAMPAIGN_CONFIG (both must exist), else the nearest
    config.toml in `cwd` or a folder above it, else the one in the user config folder."""
    named = path or env.get(ENV_PREFIX + "CONFIG")
    if named:
        chosen = (cwd / Path(named).expanduser()).resolve()
        if not chosen.is_file():
            where = "--config" if path else f"${ENV_PREFIX}CONFIG"
            raise ConfigError(f"{chosen}: config file not found (named by {where})")
        return chosen
    for folder in (cwd, *cwd.parents):
        if (folder / DEFAULT_CONFIG).is_file():
            return folder / DEFAULT_CONFIG
    user = user_config_path(env)
    return user if user.is_file() else None


def user_config_path(env: Mapping[str, str], platform: str = sys.platform) -> Path:
    """Where a user's own config.toml lives: the platform's folder for application settings."""
    home = Path(env.get("HOME") or Path.home())
    if platform == "win32":
        base = Path(env.get("APPDATA") or home / "AppData" / "Roaming")
    elif platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    return base / APP_FOLDER / DEFAULT_CONFIG


def _not_found_message(env: Mapping[str, str], cwd: Path) -> str:
    return (
        f"no config file: looked for --config, ${ENV_PREFIX}CONFIG, {DEFAULT_CONFIG} in {cwd}"
        f" and every folder above it, and {user_config_path(env)};"
        " create one with `campaign init` (or `campaign init --user`)"
    )


def _check_relays(source: Path, relays: tuple[SmtpSettings, ...]) -> None:
    names = [relay.name for relay in relays]
    for relay in relays:
        if not _RELAY_NAME.fullmatch(relay.name):
            raise ConfigError(
                f"{source}: relay name {relay.name!r} must be letters, digits, - or _ (it names"
                " the relay in `campaign relay resume NAME` and its environment overrides)"
            )
        if names.count(relay.name) > 1:
            raise ConfigError(f"{source}: two [[smtp.relays]] are named {relay.name!r}")
        if not relay.weight > 0:
            raise ConfigError(
                f"{source}: relay {relay.name} weight must be more than 0, not {relay.weight:g}"
            )


def _build(config_path: Path, raw: dict[str, Any], env: Mapping[str, str]) -> Settings:
    base = config_path.parent
    smtp_raw = dict(raw.pop("smtp", {}) or {})
    relays_raw = smtp_raw.pop("relays", [])
    dkim_raw = dict(raw.pop("dkim", {}) or {})
    inbox_raw = dict(raw.pop("inbox", {}) or {})
    reps_raw = dict(raw.pop("reps", {}) or {})
    warmup_raw = dict(raw.pop("warmup", {}) or {})
    pacing = pacing_settings(raw.pop("pacing", {}) or {}, config_path)
    brakes_raw = dict(raw.pop("brakes", {}) or {})
    top = {("from_address" if key == "from" else key): value for key, value in raw.items()}
    values = _apply(
        Settings,
        top,
        env,
        prefix="",
        skip={"config_path", "smtp", "dkim", "inbox", "reps", "warmup", "pacing", "brakes"},
        source=config_path,
    )
    smtp = _apply(SmtpSettings, smtp_raw, env, prefix="SMTP_", skip=set(), source=config_path)
    dkim = _apply(DkimSettings, dkim_raw, env, prefix="DKIM_", skip=set(), source=config_path)
    inbox = _apply(InboxSettings, inbox_raw, env, prefix="INBOX_", skip=set(), source=config_path)
    reps = _apply(RepsSettings, reps_raw, env, prefix="REPS_", skip=set(), source=config_path)
    brakes = _apply(
        BrakesSettings, brakes_raw, env, prefix="BRAKES_", skip=set(), source=config_path
    )
    _resolve_ca_file(smtp, base)
    relays = _relays(relays_raw, smtp, env, config_path)
    warmup = _apply(WarmupSettings, warmup_raw, env, "WARMUP_", set(), config_path)
    if dkim.get("private_key_path"):
        dkim["private_key_path"] = (base / Path(dkim["private_key_path"])).resolve()
    else:
        dkim["private_key_path"] = None
    ed_path = dkim.get("ed25519_private_key_path")
    dkim["ed25519_private_key_path"] = (base / Path(ed_path)).resolve() if ed_path else None
    for key in ("outbox_dir", "rehearsals_dir", "sequences_dir", "templates_dir"):
        values[key] = (base / Path(values.get(key, getattr(Settings, key)))).resolve()
    values["database_url"] = _resolve_sqlite(
        values.get("database_url", Settings.database_url), base
    )
    return Settings(
        config_path=config_path,
        smtp=SmtpSettings(**smtp),
        smtp_relays=relays,
        dkim=DkimSettings(**dkim),
        inbox=InboxSettings(**inbox),
        reps=RepsSettings(**reps),
        warmup=WarmupSettings(**warmup),
        pacing=pacing,
        brakes=BrakesSettings(**brakes),
        **values,
    )


def _relays(
    entries: object, defaults: dict[str, Any], env: Mapping[str, str], source: Path
) -> tuple[SmtpSettings, ...]:
    """Each [[smtp.relays]] table: its own keys (CAMPAIGN_SMTP_RELAYS_<NAME>_<KEY> first), the
    rest from [smtp]. `rate_limit` is for all relays together: only [smtp] sets it."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{source}: [smtp] relays must be [[smtp.relays]] tables")
    relays = []
    for entry in entries:
        name = str(entry.get("name", ""))
        if not name:
            raise ConfigError(f"{source}: every [[smtp.relays]] needs a name")
        if "rate_limit" in entry:
            raise ConfigError(
                f"{source}: relay {name}: rate_limit is for all relays together; set it in [smtp]"
            )
        prefix = f"SMTP_RELAYS_{name.upper().replace('-', '_')}_"
        own = _apply(SmtpSettings, entry, env, prefix, skip={"rate_limit"}, source=source)
        _resolve_ca_file(own, source.parent)
        relays.append(SmtpSettings(**{**defaults, **own}))
    return tuple(relays)


def _resolve_ca_file(smtp: dict[str, Any], base: Path) -> None:
    if smtp.get("ca_file"):
        smtp["ca_file"] = str((base / Path(smtp["ca_file"])).resolve())


def _apply(
    cls: type,
    raw: dict[str, Any],
    env: Mapping[str, str],
    prefix: str,
    skip: set[str],
    source: Path,
) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
    unknown = set(raw) - set(fields)
    if "max_attempts" in unknown:
        raise ConfigError(
            f"{source}: max_attempts is gone: retries now give up after give_up_after_hours"
            " (default 72); remove max_attempts"
        )
    if unknown:
        raise ConfigError(f"{source}: unknown setting(s) {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, fld in fields.items():
        env_name = ENV_PREFIX + prefix + ("FROM" if name == "from_address" else name.upper())
        if env_name in env:
            values[name] = _convert(fld.default, env[env_name], env_name)
        elif name in raw:
            values[name] = _convert(fld.default, raw[name], f"{source}: {name}")
    return values


def _convert(default: Any, value: Any, where: str) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(f"expected true or false, got {value!r}")
        if isinstance(default, tuple):  # a TOML list, or comma-separated in the environment
            items = value.split(",") if isinstance(value, str) else value
            return tuple(str(item).strip().lower() for item in items if str(item).strip())
        if isinstance(default, time):
            return value if isinstance(value, time) else time.fromisoformat(str(value))
        if isinstance(default, int | float | str):
            return type(default)(value)
        return value
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _resolve_sqlite(url: str, base: Path) -> str:
    """Make a relative SQLite path relative to the config file, not to the working directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str((base / url[len(prefix) :]).resolve())
    return url


# what the engine runs on: SQLite and PostgreSQL (psycopg 3), as SQLAlchemy spells them
_DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")


def _redact_url(url: str) -> str:
    """`postgresql://user:secret@host/db` -> `'postgresql://user:***@host/db'`."""
    return repr(re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url))
