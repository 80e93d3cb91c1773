"""Bounded schemathesis run against `chatbot serve`'s /openapi.json: no request, however odd,
gets a 500, and every response is in the documented shape (fake providers, in-process)."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from chatbot import Chatbot, Settings
from chatbot.server import create_app

KEY = "schema-key-0123456789"


#: Generated requests per operation: bounded so the run takes seconds, not minutes.
EXAMPLES = 20


def test_no_server_errors_and_documented_shapes(fake_settings: Settings, seed_dir: Path) -> None:
    bot = Chatbot(fake_settings.with_overrides(api_key=KEY))
    bot.ingest([Path("seeds")])
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(bot))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES, deadline=None, database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {KEY}"},
                checks=[not_a_server_error, response_schema_conformance],
            )

        check()
