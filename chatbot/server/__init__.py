"""`chatbot serve`: an OpenAI-compatible HTTP API over the public `Chatbot` (FastAPI + uvicorn).

    app.py        the application, bearer auth, /v1/models, /health; `serve` checks then listens
    chat.py       POST /v1/chat/completions (SSE streaming and not), cancel on disconnect
    documents.py  /v1/documents (list, multipart upload, delete) and /v1/summaries
    gate.py       one model request at a time, a bounded FIFO line, 429 beyond it
    errors.py     every failure in OpenAI's error shape
    schema.py     request and response bodies (the OpenAPI schema at /openapi.json)
"""

from chatbot.server.app import create_app, serve

__all__ = ["create_app", "serve"]
