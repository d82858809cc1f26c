"""Language models: the paper's interface over any OpenAI-compatible endpoint or the offline model.

    client = open_model("offline:1", ModelSettings(cache_path=Path("runs/x/lm-cache.sqlite")))
    lm = client.language_model(budget=4, max_responses_per_call=6, purpose="t=1 test=0")
    answers = lm.batch_prompt(expertise, [message] * 6, temperature=0.7)

One `ModelClient` per run holds the backend, the response cache, the cost cap and the call recorder;
each improver run gets its own `LanguageModel` (fresh budget) on it. See docs/models.md.
"""

from selftaught.lm.backend import Completion, Request
from selftaught.lm.client import ClientStats, ModelClient, open_model
from selftaught.lm.errors import (
    BUDGET_MESSAGE,
    CostCapReached,
    EndpointError,
    ModelAuthError,
    ModelError,
    ReplayMiss,
)
from selftaught.lm.language_model import LanguageModel
from selftaught.lm.pricing import DEFAULT_PRICES, Price, load_prices
from selftaught.lm.settings import CACHE_MODES, CacheMode, CallRecord, ModelSettings
from selftaught.lm.spec import ModelSpec, parse_spec

__all__ = [
    "BUDGET_MESSAGE",
    "CACHE_MODES",
    "DEFAULT_PRICES",
    "CacheMode",
    "CallRecord",
    "ClientStats",
    "Completion",
    "CostCapReached",
    "EndpointError",
    "LanguageModel",
    "ModelAuthError",
    "ModelClient",
    "ModelError",
    "ModelSettings",
    "ModelSpec",
    "Price",
    "ReplayMiss",
    "Request",
    "load_prices",
    "open_model",
    "parse_spec",
]
