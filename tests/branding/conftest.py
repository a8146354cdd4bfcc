from tests.notifications.conftest import deliver_now  # noqa: F401 (the fixture)
