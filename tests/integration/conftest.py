import pytest

from config.celery import app as celery_app


@pytest.fixture
def broker():
    """Tasks go to the real broker (for real worker processes), which starts empty."""
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    yield
    celery_app.control.purge()
    celery_app.conf.task_always_eager = True
