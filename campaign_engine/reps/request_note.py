"""A contact request's note: how the engine stores the contact's fields in one event note, and
how rep-facing mail reads them back as labelled fields (PURE).

Stored as lines `source: web`, `replied by: ...`, `preferred time: ...`, `message: ...` (the
message last: it may span lines). A note in no such shape is the contact's message as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SOURCES", "RequestNote", "parse_note"]

# How the request reached the engine, in the rep's words.
SOURCES = {
    "web": "the contact page",
    "reply": "a reply to the email",
    "manual": "recorded by hand",
}
_FIELDS = (
    ("source", "source: "),
    ("replied_by", "replied by: "),
    ("preferred_time", "preferred time: "),
)
_MESSAGE = "message: "


@dataclass(frozen=True)
class RequestNote:
    source: str = ""  # web, reply, manual ("" when the note does not say)
    replied_by: str = ""  # a colleague who answered on the contact's thread
    preferred_time: str = ""
    message: str = ""

    @property
    def via(self) -> str:
        """Where the request came from, in words ("" when unknown)."""
        return SOURCES.get(self.source, self.source)

    def stored(self) -> str:
        """The note as the event keeps it.

        >>> RequestNote("web", "", "Tue 10:00", "Call me\\nplease").stored()
        'source: web\\npreferred time: Tue 10:00\\nmessage: Call me\\nplease'
        """
        lines = [
            f"{prefix}{getattr(self, name)}" for name, prefix in _FIELDS if getattr(self, name)
        ]
        if self.message:
            lines.append(f"{_MESSAGE}{self.message}")
        return "\n".join(lines)


def parse_note(note: str) -> RequestNote:
    """The fields of a stored note; any other text is the contact's message.

    >>> parse_note("source: web\\npreferred time: Tue\\nmessage: Hi\\nthere")
    RequestNote(source='web', replied_by='', preferred_time='Tue', message='Hi\\nthere')
    >>> parse_note("Call me <Thursday>")
    RequestNote(source='', replied_by='', preferred_time='', message='Call me <Thursday>')
    """
    found: dict[str, str] = {}
    lines = note.splitlines()
    for index, line in enumerate(lines):
        if line.startswith(_MESSAGE):
            found["message"] = "\n".join([line[len(_MESSAGE) :], *lines[index + 1 :]])
            break
        field = next(((n, p) for n, p in _FIELDS if line.startswith(p) and n not in found), None)
        if field is None:
            return RequestNote(message=note.strip())
        found[field[0]] = line[len(field[1]) :]
    return RequestNote(**found)
