"""Notebook 05's answers."""


def statistic_probabilities(n):
    # rule i sees the packets the i rules before it left: 1 in (n - i) of those is its
    return [1 / (n - i) for i in range(n - 1)]
