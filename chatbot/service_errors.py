"""Turn failures of the model service into one clear message that names the setting to check.

Retries with backoff happen inside the `openai` client (`CHATBOT_MAX_RETRIES`, bounded by
`CHATBOT_REQUEST_TIMEOUT`); what reaches this module has already been retried.
"""

from __future__ import annotations

from chatbot.config import Settings


class ModelServiceError(RuntimeError):
    """The model service failed; the message is safe to show (it never contains the key)."""


def explain(exc: BaseException, settings: Settings) -> ModelServiceError:
    import openai

    where = settings.openai_base_url or (
        "the embedded model server" if settings.llm_provider == "local" else "api.openai.com"
    )
    if isinstance(exc, openai.AuthenticationError):
        message = f"{where} rejected the API key; check OPENAI_API_KEY"
    elif isinstance(exc, openai.PermissionDeniedError):
        message = f"{where} refused access to model {settings.chat_model!r}; check CHATBOT_CHAT_MODEL"
    elif isinstance(exc, openai.NotFoundError):
        message = f"{where} has no model {settings.chat_model!r}; check CHATBOT_CHAT_MODEL"
    elif isinstance(exc, openai.RateLimitError):
        message = (
            f"{where} is rate limiting requests (still after {settings.max_retries} retries); "
            "wait and try again, or raise CHATBOT_MAX_RETRIES"
        )
    elif isinstance(exc, openai.APITimeoutError):
        message = (
            f"{where} did not answer within {settings.request_timeout:g} s; "
            "raise CHATBOT_REQUEST_TIMEOUT or check the server"
        )
    elif isinstance(exc, openai.APIConnectionError):
        message = f"cannot connect to {where}; check OPENAI_BASE_URL and that the server runs"
    elif isinstance(exc, openai.InternalServerError):
        message = f"{where} had a server error (still after {settings.max_retries} retries)"
    elif isinstance(exc, openai.APIStatusError):
        message = f"{where} answered HTTP {exc.status_code}; check OPENAI_BASE_URL"
    elif isinstance(exc, openai.APIResponseValidationError | ValueError):
        message = f"{where} sent a malformed response; check OPENAI_BASE_URL"
    else:
        message = f"the model service failed: {type(exc).__name__}"
    return ModelServiceError(message)
