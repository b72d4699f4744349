"""A throwaway Dovecot IMAP server for tests: unprivileged, loopback only, config in tmp.

Debian's `dovecot-imapd` (installed by `make test` when missing and root). It runs as the
current user, or as `nobody` when the tests run as root, with its own config, passwd-file and
maildir in a temporary directory; nothing of the system's Dovecot set-up is used or started.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from imap_tools import MailBoxUnencrypted

DOVECOT = Path("/usr/sbin/dovecot")
USER, PASSWORD = "replies", "imap-test-password"


@dataclass(frozen=True)
class Dovecot:
    port: int
    root: Path

    def mailbox(self) -> MailBoxUnencrypted:
        return MailBoxUnencrypted("127.0.0.1", self.port, timeout=10).login(
            USER, PASSWORD, initial_folder=None
        )

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        with self.mailbox() as box:
            box.append(raw, folder)

    def subjects(self, folder: str) -> list[str]:
        """Subject of every message in `folder` ([] when the folder does not exist)."""
        with self.mailbox() as box:
            if not box.folder.exists(folder):
                return []
            box.folder.set(folder)
            return sorted(m.subject for m in box.fetch(mark_seen=False))


def _config(root: Path, port: int, user: str, group: str) -> str:
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = campaign-test-{port}
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@contextmanager
def running_dovecot(port: int) -> Iterator[Dovecot]:
    root = Path(tempfile.mkdtemp(prefix="campaign-dovecot-"))
    account = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    group = _group_name(account.pw_gid)
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    (root / "passwd").write_text(
        f"{USER}:{{PLAIN}}{PASSWORD}:{account.pw_uid}:{account.pw_gid}::{root}/mail/{USER}::\n"
    )
    (root / "dovecot.conf").write_text(_config(root, port, account.pw_name, group))
    command = [str(DOVECOT), "-F", "-c", str(root / "dovecot.conf")]
    if os.geteuid() == 0:  # never a root service: drop to nobody, who owns the tmp tree
        for path in (root, *root.rglob("*")):
            os.chown(path, account.pw_uid, account.pw_gid)
        command = [
            "setpriv",
            f"--reuid={account.pw_uid}",
            f"--regid={account.pw_gid}",
            "--clear-groups",
            *command,
        ]
    with (root / "stdout.log").open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_for_greeting(port, process, root)
        yield Dovecot(port, root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_greeting(port: int, process: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            logs = [root / "stdout.log", root / "dovecot.log"]
            output = "".join(p.read_text() for p in logs if p.exists())
            raise RuntimeError(f"dovecot exited with {process.returncode}: {output}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"dovecot did not greet on 127.0.0.1:{port} within 15 s")


def _group_name(gid: int) -> str:
    return grp.getgrgid(gid).gr_name
