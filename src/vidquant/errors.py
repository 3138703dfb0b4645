"""The one exception type users see: the CLI prints it as a single line, no traceback."""


class VidquantError(Exception):
    """Bad input or an impossible request, explained in one line."""
