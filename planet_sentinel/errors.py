"""One exception type for every failure a user can fix, so every surface can report it."""


class SentinelError(Exception):
    """A problem with the user's input or environment, with a message that says what to do.

    The CLI prints the message and exits non-zero; the service maps it to a 4xx response.
    """
