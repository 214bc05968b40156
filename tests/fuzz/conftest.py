from tests.e2e.gateway_fixtures import *  # noqa: F403
