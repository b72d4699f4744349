"""Every operation of the OpenAPI document, walked with generated valid and invalid input over
real HTTP: each answer must be one the document lists for it (status, media type, schema), and
none a 500. Offline: schemathesis only calls the loopback server. Done with the ops token, which
may call every operation."""

from __future__ import annotations

import os

import httpx
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import Case, GenerationMode

from tests.integration.test_api import API, Clients, api  # noqa: F401  (fixture)
from tests.webapp_fixtures import (
    launched_fixture,  # noqa: F401  (fixture)
    web_fixture,  # noqa: F401  (fixture)
    web_settings_fixture,  # noqa: F401  (fixture)
)

# Schema-valid is not always acceptable (an empty email, an unknown sequence: a 422 naming the
# field, held to the document by the other checks); invalid input is refused with one of these.
CHECKS = {
    "checks": {
        "positive_data_acceptance": {"enabled": False},
        "negative_data_rejection": {"expected-statuses": [400, 401, 403, 404, 409, 413, 422]},
    }
}
# Examples per operation and mode: 18 operations x 2 modes in about a minute, the same ones each
# run; API_FUZZ_EXAMPLES=200 draws that many fresh ones (a longer hunt, by hand).
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "20"))


def test_every_operation_answers_as_the_document_says(api: Clients) -> None:  # noqa: F811
    base = api.web.url + API
    document = httpx.get(base + "/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document, config=schemathesis.Config.from_dict(CHECKS))
    headers = {"Authorization": f"Bearer {api.tokens['ops']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(item) for item in document["paths"].values())
    for operation in operations:
        for mode in GenerationMode:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=os.environ.get("API_FUZZ_EXAMPLES") is None,
                suppress_health_check=list(HealthCheck),
            )
            def call(case: Case) -> None:
                # The HTTP client drops a None, sends [] as nothing and ["x"] as x: the server
                # cannot see such values (repeated parameters are tested on their own).
                assume(all(isinstance(v, str | int | float) for v in (case.query or {}).values()))
                case.call_and_validate(base_url=base, headers=headers)

            call()
