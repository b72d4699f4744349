"""A fault-injecting SMTP relay (aiosmtpd) for delivery tests and bench/faults.py.

Each fault is a switch or a per-recipient rule, so a test says exactly which misbehaviour it
wants: AUTH required (and a wrong password answered 535), 421 at connect, a reply forced at
MAIL FROM, at RCPT for some or all recipients or at DATA, a connection dropped at the DATA
command (before the final dot) or after the final dot (the relay keeps the message but never
answers), a session closed at its next MAIL FROM after some messages (an idle timeout), and slow
replies; STARTTLS (required) or implicit TLS with a given certificate. `received` lists what the
relay really took, recipient by recipient (`encrypted`: whether each came over TLS).

It offers PIPELINING (RFC 2920) unless told not to, and `mail_groups` shows what the client did
with it: the command lines that came in one read with each MAIL FROM (MAIL, RCPT and DATA when
the client pipelines, MAIL alone when it goes step by step), and `behind_dot` how many MAIL
FROMs came in the same read as the previous message's final dot.

Postfix's own restrictions, which it applies at RCPT TO (smtpd_delay_reject): `relay_after_auth`
(smtpd_client_restrictions = permit_sasl_authenticated, reject: AUTH offered, not required, and
every recipient of a session without a login refused), `helo_fqdn` (reject_non_fqdn_helo_hostname)
and `auth_after_tls` (smtpd_tls_auth_only: AUTH offered only once STARTTLS is done).
"""

from __future__ import annotations

import asyncio
import email
import ssl
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.conftest import ClosingController, free_port

__all__ = ["FaultRelay", "fault_relay"]


@dataclass
class FaultRelay:
    """The relay's behaviour; change any field while it runs."""

    port: int
    username: str = ""  # AUTH required when set
    password: str = ""
    greeting: str = ""  # e.g. "421 4.3.2 not now": said instead of 220, then the line is closed
    pipelining: bool = True  # offer PIPELINING in the EHLO reply
    mail_reply: str = ""  # forced reply to every MAIL FROM, e.g. "553 5.7.1 sender rejected"
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # recipient -> forced reply
    rcpt_reply_all: str = ""  # forced reply to every RCPT TO (a block list)
    data_reply: str = ""  # forced reply to a DATA that has a recipient, e.g. "451 4.3.0 later"
    dot_replies: dict[str, str] = field(default_factory=dict)  # recipient -> reply to the dot
    drop_at_data: set[str] = field(default_factory=set)  # close at DATA: before the dot
    drop_after_dot: set[str] = field(default_factory=set)  # take it, then close without a reply
    close_after: int = 0  # a session's MAIL FROM after this many is met by a closed connection
    delay: float = 0.0  # seconds before each RCPT reply
    smtputf8: bool = True
    relay_after_auth: bool = False  # Postfix: no login, every RCPT refused "Client host rejected"
    helo_fqdn: bool = False  # Postfix: a HELO name without a dot is refused at RCPT
    auth_after_tls: bool = False  # AUTH offered only after STARTTLS
    tls: ssl.SSLContext | None = None  # offer (and require) STARTTLS with this certificate
    implicit_tls: bool = False  # ... or speak TLS from the first byte (an SMTPS port)
    received: list[tuple[str, EmailMessage]] = field(default_factory=list)
    asked: Counter[str] = field(default_factory=Counter)  # RCPT TOs per recipient, refused or not
    most_at_once: Counter[str] = field(default_factory=Counter)  # per domain, RCPTs in `delay`
    _waiting: Counter[str] = field(default_factory=Counter)
    logins: Counter[str] = field(default_factory=Counter)  # "ok" / "failed"
    connections: int = 0
    mail_groups: list[list[str]] = field(default_factory=list)  # lines read with each MAIL FROM
    behind_dot: int = 0  # MAIL FROMs read with the previous message's final dot
    encrypted: list[bool] = field(default_factory=list)  # per entry of `received`

    def arrived(self) -> Counter[str]:
        """How many times each recipient got a message."""
        return Counter(rcpt for rcpt, _ in self.received)

    # -- aiosmtpd handler hooks ------------------------------------------------------------

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, replies: list[str]
    ) -> list[str]:
        session.host_name = hostname  # what aiosmtpd does itself when there is no hook
        if self.pipelining:
            replies.insert(-1, "250-PIPELINING")  # before the last line ("250 HELP")
        return replies

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.asked[address] += 1
        if self.delay:
            domain = address.rpartition("@")[2]
            self._waiting[domain] += 1
            self.most_at_once[domain] = max(self.most_at_once[domain], self._waiting[domain])
            await asyncio.sleep(self.delay)
            self._waiting[domain] -= 1
        if self.relay_after_auth and not session.authenticated:
            return "554 5.7.1 <localhost[127.0.0.1]>: Client host rejected: Access denied"
        helo = session.host_name or ""
        if self.helo_fqdn and "." not in helo:
            return f"504 5.5.2 <{helo}>: Helo command rejected: need fully-qualified hostname"
        forced = self.rcpt_replies.get(address) or self.rcpt_reply_all
        if forced:
            return forced
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusals = [self.dot_replies[r] for r in envelope.rcpt_tos if r in self.dot_replies]
        if refusals:
            return refusals[0]  # the content came and was refused: nothing was taken
        raw = envelope.original_content or b""
        assert server.transport is not None
        message = email.message_from_bytes(raw, policy=default_policy)
        for rcpt in envelope.rcpt_tos:
            self.received.append((rcpt, message))  # type: ignore[arg-type]
            self.encrypted.append(server.transport.get_extra_info("ssl_object") is not None)
        if set(envelope.rcpt_tos) & self.drop_after_dot:
            assert server.transport is not None
            server.transport.close()  # it has the message; the client never hears so
        return "250 2.0.0 accepted"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.username
            and data.password.decode() == self.password
        )
        self.logins["ok" if ok else "failed"] += 1
        return AuthResult(success=ok, handled=False)


class _FaultySMTP(SMTP):
    relay: FaultRelay
    mails = 0  # MAIL FROMs in this session

    def data_received(self, data: bytes) -> None:
        start = 0 if data.startswith(b"MAIL FROM:") else data.find(b"\r\n.\r\nMAIL FROM:") + 5
        if data.startswith(b"MAIL FROM:", start):  # a transaction's first write
            lines = data[start:].decode("utf-8", "replace").split("\r\n")
            self.relay.mail_groups.append([line for line in lines if line])
            self.relay.behind_dot += start > 0
        super().data_received(data)

    async def _handle_client(self) -> None:
        self.relay.connections += 1
        if self.relay.greeting:
            await self.push(self.relay.greeting)
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()

    async def smtp_MAIL(self, arg: str) -> None:
        self.mails += 1
        if self.relay.close_after and self.mails > self.relay.close_after:
            assert self.transport is not None
            self.transport.close()  # the relay's idle timeout, just as the client speaks
            return
        await super().smtp_MAIL(arg)

    async def smtp_DATA(self, arg: str) -> None:
        assert self.envelope is not None
        if set(self.envelope.rcpt_tos) & self.relay.drop_at_data:
            assert self.transport is not None
            self.transport.close()  # before the 354: the content was never sent
            return
        if self.relay.data_reply and self.envelope.rcpt_tos:
            await self.push(self.relay.data_reply)
            return
        await super().smtp_DATA(arg)


class _Controller(ClosingController):
    def __init__(self, relay: FaultRelay) -> None:
        options: dict[str, Any] = (
            {
                "auth_required": not relay.relay_after_auth,
                "auth_require_tls": relay.auth_after_tls,
            }
            if relay.username
            else {}
        )
        if relay.tls is not None and relay.implicit_tls:
            options["ssl_context"] = relay.tls
        elif relay.tls is not None:
            options.update(tls_context=relay.tls, require_starttls=True)
        super().__init__(
            relay,
            hostname="127.0.0.1",
            port=relay.port,
            authenticator=relay.authenticate,
            enable_SMTPUTF8=relay.smtputf8,
            **options,
        )
        self.relay = relay

    def factory(self) -> SMTP:
        with warnings.catch_warnings():  # AUTH without TLS: on loopback, on purpose
            warnings.simplefilter("ignore", UserWarning)
            smtp = _FaultySMTP(self.handler, **self.SMTP_kwargs)
        smtp.relay = self.relay
        return smtp


@contextmanager
def fault_relay(**behaviour: Any) -> Iterator[FaultRelay]:
    """A running FaultRelay on a free loopback port."""
    relay = FaultRelay(port=free_port(), **behaviour)
    controller = _Controller(relay)
    controller.start()
    try:
        yield relay
    finally:
        controller.stop()
