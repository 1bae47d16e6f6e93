import pytest

# The inspector app's browser tests' fixtures: one headless Chromium, the app served in a thread.
from tests.web.app.conftest import browser, live  # noqa: F401

from .helpers import sign_in


@pytest.fixture
def sup(client, world):
    """The client signed in as the world's supervisor."""
    sign_in(client, "sup")
    return client
