"""Mail bodies are quoted-printable exactly as `quopri` encodes them, though line by line."""

from __future__ import annotations

import quopri
import random

from campaign_engine.sending.mime import build_mime

PIECES = [
    "a", " ", "\t", "\n", "\r\n", "\r", ".", "=", "é", "€", "日本", "\x00", "\x7f", "x" * 80,
    " \n", ".\n", "\n.", "ab" * 40 + " ", "\u2028", "\x0c", "<p style=\"margin:0\">", "=\n",
]  # fmt: skip


def test_bodies_are_encoded_as_quopri_does() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        bodies = ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40))) for _ in "ht"]
        raw = build_mime(
            from_header="a@example.com",
            to_header="b@example.com",
            subject="s",
            html=bodies[0],
            text=bodies[1],
            message_id="<1@example.com>",
            date="Tue, 27 Apr 2021 09:00:00 +0000",
        ).decode("utf-8")
        for body in bodies:
            encoded = quopri.encodestring(body.replace("\r\n", "\n").encode("utf-8"))
            part = "\r\n\r\n" + encoded.decode("ascii").replace("\n", "\r\n") + "\r\n--=_"
            assert part in raw, body
