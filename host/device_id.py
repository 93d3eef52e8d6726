"""A device's id as a recording's header keeps it, and as the history compares it.

The recorder names the device in every EDF/BDF signal's prefilter field, ``device <id> fw
<firmware>``: 80 characters of printable ASCII. An LSL stream's or a BrainFlow board's id can be
longer, or hold any character (a stream called ``Wadenmuskel-Gerät ü``); cut to the field and
its other characters written as ``?``, the id ``analyze`` read back was not the one the recorder
put in the index, so a file analysed again joined no recording of its device. Here an id is
written percent-encoded (UTF-8; also ``%`` and spaces, so `` fw `` always ends it), and one whose
encoding does not fit ``ID_ROOM`` keeps the start that fits and ``~`` with 8 hex digits of its
SHA-256; the index keeps every id in the form reading the header gives (``device_key``), so both
sides agree. Headers written before this read as they did (an id of printable ASCII without
``%`` reads the same both ways).
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse

#: characters written as they are: printable ASCII but ``%`` (the escape) and the space (the
#: field's separator; an id's own spaces had been taken for the end of it at `` fw ``)
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")
#: the prefilter field's width (EDF/BDF header)
FIELD = 80
#: room for the encoded id: 80 less ``device `` and `` fw `` leaves 69; the firmware keeps at
#: least 13 of them (``brainflow 5.1``, ``fw replay`` always whole, so a replay's file is known by
#: its header however long the replayed file's name)
ID_ROOM = 56
#: the hash suffix of an id that does not fit: ``~`` and 8 hex digits (32 bits: two ids that
#: share their first ~47 characters collide once in 4 billion)
_HASH = 8

_FIELD_RE = re.compile(r"device (.+?) fw (.*)")


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe=_SAFE, errors="replace")


def _fitting(text: str, room: int) -> str:
    """The encoding of the longest start of ``text`` that fits ``room`` characters (never half an escape)."""
    out, used = [], 0
    for ch in text:
        q = _quote(ch)
        if used + len(q) > room:
            break
        out.append(q)
        used += len(q)
    return "".join(out)


def header_form(ident: object) -> str:
    """``ident`` as a header writes it: percent-encoded, and when that is longer than
    ``ID_ROOM``, the start that fits with ``~`` and 8 hex digits of the whole id's SHA-256."""
    text = str(ident)
    q = _quote(text)
    if len(q) <= ID_ROOM:
        return q
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH]
    return _fitting(text, ID_ROOM - _HASH - 1) + "~" + digest


def device_key(ident: object) -> str:
    """The id as reading a header that ``header_form`` wrote gives it back: the id itself when
    its encoding fits, else its start with the hash suffix. The same for an id and for its key
    (``device_key(device_key(x)) == device_key(x)``), so the recorder's rows and a file's header
    read again compare equal."""
    return urllib.parse.unquote(header_form(ident), errors="replace")


def prefilter_field(device_id: object, firmware: object) -> str:
    """The prefilter field naming a recording's device: ``device <id> fw <firmware>``, the
    firmware encoded and cut (at an escape's edge) to what is left of the 80 characters."""
    head = f"device {header_form(device_id)} fw "
    return head + _fitting(str(firmware), FIELD - len(head))


def read_prefilter(text: str) -> dict | None:
    """``{"device_id", "firmware"}`` a prefilter field names (None: not one the recorder wrote)."""
    m = _FIELD_RE.fullmatch(text.strip())
    if not m:
        return None
    return {"device_id": urllib.parse.unquote(m.group(1), errors="replace"),
            "firmware": urllib.parse.unquote(m.group(2), errors="replace")}
