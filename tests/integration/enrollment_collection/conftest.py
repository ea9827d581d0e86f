"""A migrated enrollment database on both engines: the same fixtures as the core's tests."""

from tests.integration.enrollment.conftest import migrated_url, sessionmaker

__all__ = ["migrated_url", "sessionmaker"]
