"""Where LangGraph's objects live in a hub: key names built from arbitrary ids (pure).

Thread ids, checkpoint namespaces, channel names, versions and store namespaces are
any strings; statehub keys allow only ``A-Z a-z 0-9 _ - . : @ + = ,`` in a segment.
:func:`escape` maps every string to one valid segment, reversibly: each character
outside ``A-Z a-z 0-9 _ - . : + ,`` (``=`` and ``@`` included) becomes ``=XX`` per
UTF-8 byte, the empty string becomes ``=``, and ``.`` / ``..`` escape their dots.

>>> escape("user 42/chat"), unescape(escape("user 42/chat"))
('user=2042=2Fchat', 'user 42/chat')
>>> escape(""), escape("..")
('=', '=2E=2E')
"""

from __future__ import annotations

import re

from statehub.errors import InvalidArgument, InvalidKey
from statehub.keys import MAX_KEY_LENGTH, validate_key

__all__ = ["check_root", "escape", "joined", "unescape"]

_PLAIN = re.compile(r"[A-Za-z0-9_.:+,-]*")
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:+,-")
_ESCAPED = re.compile(r"=([0-9A-F]{2})")


def escape(text: str) -> str:
    """One valid key segment that :func:`unescape` turns back into ``text``."""
    if not isinstance(text, str):
        raise InvalidArgument(f"expected a str id, not {type(text).__name__}")
    if text == "":
        return "="
    if text in (".", ".."):
        return "=2E" * len(text)
    if _PLAIN.fullmatch(text):
        return text
    out = []
    for char in text:
        if char in _SAFE:
            out.append(char)
        else:
            out.extend(f"={byte:02X}" for byte in char.encode())
    return "".join(out)


def unescape(segment: str) -> str:
    """The string :func:`escape` turned into ``segment``."""
    if segment == "=":
        return ""
    if "=" not in segment:
        return segment
    raw = bytearray()
    position = 0
    for match in _ESCAPED.finditer(segment):
        raw.extend(segment[position : match.start()].encode())
        raw.append(int(match.group(1), 16))
        position = match.end()
    raw.extend(segment[position:].encode())
    return raw.decode()


def check_root(root: str) -> str:
    """``root`` without a trailing ``/`` if it can start keys (``global/langgraph``).

    It must be a key itself: a scope and at least one more segment.
    """
    if not isinstance(root, str):
        raise InvalidArgument(f"root must be a str, not {type(root).__name__}")
    root = root.rstrip("/")
    if root.count("/") < 1:
        raise InvalidArgument(
            f"root must hold a scope and a name, e.g. 'global/langgraph', not {root!r}"
        )
    return validate_key(root)


def joined(root: str, *parts: str, what: str) -> str:
    """``root/part/...`` with every part escaped; a clear error if it is too long."""
    key = "/".join((root, *(escape(part) for part in parts)))
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(
            key[:60] + "...",
            f"the {what} makes a key longer than {MAX_KEY_LENGTH} characters; use a shorter one",
        )
    return key
