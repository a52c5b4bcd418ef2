"""Error types shared by every layer of the package.

Every error a user can cause by bad input derives from :class:`UsageError`;
the CLI prints its message as one line and exits with code 2. Errors raised
while a run is already training are reported as run failures (exit code 1).
"""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user: a config field, a file, a name.

    The message is one line that names the field or file and what is
    expected; the CLI prints it prefixed with ``error:`` and exits with 2.
    """

    exit_code = 2

    def __str__(self) -> str:
        # one line whatever the message quotes (a path or value with a newline or a terminal escape
        # sequence): control characters are shown escaped, as repr() shows them
        text = super().__str__()
        if text.isprintable():
            return text
        return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


class ConfigError(UsageError, ValueError):
    """A configuration field holds a value outside its allowed set."""


class DataError(UsageError):
    """A data file is missing, truncated, corrupt or fails its checksum."""


class StoreError(UsageError):
    """The results root cannot be read or written."""
