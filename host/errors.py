"""The package's exception tree. The CLI turns these into one line on stderr and an exit code."""


class MyotwitchError(Exception):
    """Root of every error a user can cause (bad input, missing device, bad option)."""

    exit_code = 1


class SourceError(MyotwitchError):
    """A device or file could not be opened or read (wrong port, permission, no adapter)."""

    exit_code = 3


class FormatError(MyotwitchError):
    """A file is not what it should be (truncated EDF, bad CSV, wrong units)."""

    exit_code = 4


class UsageError(MyotwitchError):
    """An option or argument is invalid."""

    exit_code = 2


class HistoryError(MyotwitchError):
    """The local history database (session index, diary, unit registry) cannot be opened or read."""
