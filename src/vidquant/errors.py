"""The one exception type users see: the CLI prints it as a single line, no traceback."""


class VidquantError(Exception):
    """Bad input or an impossible request, explained in one line."""


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (its type name when empty), for one-line errors."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
