"""A migrated enrollment database on both engines and the app over HTTP: the core's fixtures."""

from tests.integration.enrollment.conftest import base_url, client, migrated_url, sessionmaker

__all__ = ["base_url", "client", "migrated_url", "sessionmaker"]
