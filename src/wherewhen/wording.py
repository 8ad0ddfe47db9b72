"""Counts in messages: ``count(1, "class")`` is "1 class", ``count(2, "class")`` is "2 classes"."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    if n == 1:
        return f"1 {noun}"
    if plural is None:
        if noun.endswith(("s", "x", "ch", "sh")):
            plural = noun + "es"
        elif noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
            plural = noun[:-1] + "ies"
        else:
            plural = noun + "s"
    return f"{n} {plural}"
