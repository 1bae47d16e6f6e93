import pytest

from .helpers import sign_in


@pytest.fixture
def sup(client, world):
    """The client signed in as the world's supervisor."""
    sign_in(client, "sup")
    return client
