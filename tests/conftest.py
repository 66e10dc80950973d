"""Settings every test process shares."""

import os

import pytest

# Powertools reads these when a handler module is imported, as Lambda does at cold start; a
# test process imports each handler once, so they are set before any test imports one.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "mlops-tests")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

# The shared helpers assert too; their failures read like the tests' own.
pytest.register_assert_rewrite("tests.support")
