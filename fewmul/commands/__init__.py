"""Sub-commands of the ``fewmul`` CLI, one per module."""
