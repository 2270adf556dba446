"""Whole lines out of a byte stream that arrives in arbitrary chunks (Docker logs, a build
client's output)."""

from collections.abc import Iterable, Iterator


def split_lines(chunks: Iterable[bytes], keepends: bool = False) -> Iterator[bytes]:
    """The lines of ``chunks`` joined, and a last unterminated line too; each with its
    ``\n`` if ``keepends``, else without.

    A chunk may end in the middle of a line (or of a UTF-8 character): lines are cut only at
    newlines, so decoding a line never splits a character.
    """
    pending = b""
    end = b"\n" if keepends else b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line + end
    if pending:
        yield pending
