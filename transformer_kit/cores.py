"""How many CPU cores this process may use: the one count for every parallel step.

A container or `taskset` may give a process fewer cores than the machine
has; `os.cpu_count()` counts the machine's, so n-gram fits and word-vector
threads would oversubscribe the cores they were given.
"""

import os


def available_cores():
    """The CPU cores this process may run on: its CPU affinity where the OS tells it, else all.

    Returns:
        int, at least 1.

    Example:

    >>> 1 <= available_cores() <= (os.cpu_count() or 1)
    True
    """
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1
