"""Notebook 01's answers."""


def restart_backoff(deaths):
    if deaths <= 1:
        return 0
    return min(10 * 2 ** (deaths - 2), 300)
