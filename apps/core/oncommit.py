from collections.abc import Callable

from django.db import transaction


def on_commit_once(func: Callable[[], None]) -> None:
    """Run ``func`` after the current transaction commits, once however often it is asked.

    Used to ring a worker: one message per transaction is enough, because the task it starts
    drains everything pending. ``robust``: a broker that cannot be reached is logged, and the
    periodic sweep covers for the lost kick.
    """
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(
        queued is func for _sids, queued, _robust in connection.run_on_commit
    ):
        return
    transaction.on_commit(func, robust=True)
