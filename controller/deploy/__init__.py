"""One deployment from queue to completed: queue, pipeline, swap, rollback, progress."""
