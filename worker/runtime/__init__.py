"""The processes: the Celery app, its tasks and consumer, the sweeper and the embedded dev mode."""
