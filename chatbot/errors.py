"""One exception hierarchy: every failure a user can fix or wait out is a `ChatbotError`.

Each message is one line that is safe to show (no key, no raw service reply) and names the fix.
Front ends catch `ChatbotError` alone; the server maps the subclasses below to HTTP statuses.
Modules keep their own precise subclasses (`UnknownSourceError`, `SuiteError`, ...), each
derived from one of these kinds.
"""

from __future__ import annotations


class ChatbotError(Exception):
    """Base of every error chatbot raises on purpose; `str(exc)` is the user-facing line."""


class ConfigError(ChatbotError):
    """The settings, a provider choice, a prompt file or the embedded model are not usable."""


class InstallError(ChatbotError):
    """A third-party package is missing or broken: reinstall from the lock."""


class InvalidRequestError(ChatbotError):
    """The request itself is wrong (empty question, bad argument, bad suite file)."""


class NotFoundError(InvalidRequestError):
    """A named thing (an indexed source, a model id) does not exist."""


class StoreError(ChatbotError):
    """The index cannot be opened, read or written."""


class BusyError(ChatbotError):
    """Someone else holds the resource (the index lock, the model queue): try again later.

    `retry_after` is a suggested wait in seconds, when one is known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModelServiceError(ChatbotError):
    """The model service failed; the message is safe to show (it never contains the key)."""
