"""1:N and 1:1 comparisons under a case: the gate every search passes, photo and footage search, ranking, verify."""
