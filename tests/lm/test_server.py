"""The loopback server is a real OpenAI-compatible endpoint for the official SDK."""

from __future__ import annotations

import openai

from selftaught.lm import open_model
from selftaught.testing.openai_server import OpenAIServer

from .conftest import MESSAGE, settings, spec


def test_models_and_chat_through_the_sync_sdk() -> None:
    with OpenAIServer(models=["alpha", "beta"]) as server:
        sdk = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0)
        assert [m.id for m in sdk.models.list()] == ["alpha", "beta"]
        reply = sdk.chat.completions.create(
            model="alpha", messages=[{"role": "user", "content": MESSAGE}], n=3, temperature=0.7
        )
        assert len(reply.choices) == 3 and reply.usage and reply.usage.completion_tokens > 0
        sdk.close()


def test_scripted_replies_come_first_then_the_reply_function(key_env: str) -> None:
    def scripted(body: dict, index: int) -> str:
        return f"function reply {index}"

    with OpenAIServer(reply=scripted) as server, open_model(spec(server), settings(key_env)) as client:
        server.enqueue_replies("queued one")
        lm = client.language_model(budget=1)
        assert lm.prompt("sys", MESSAGE, n_responses=3) == [
            "queued one",
            "function reply 1",
            "function reply 2",
        ]
        body = server.chat_requests[0].body
        assert body["messages"][0] == {"role": "system", "content": "sys"} and body["max_tokens"] == 1024
