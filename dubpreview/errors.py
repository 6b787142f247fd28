"""The one exception type the user sees.

Anything raised as :class:`DubError` is printed by the CLI (and the app) as a single
line, ``dubpreview: error: <message>``, with a non-zero exit code and no traceback.
The message says what is wrong and what to do about it.
"""


class DubError(Exception):
    """A problem with the user's input or environment, explained in one sentence."""


class BackendUnavailable(DubError):
    """A selected backend cannot run here (missing package, missing language pair)."""
