"""The reference answers of the notebooks' exercises (see ``kfs.course.exercise``).

A notebook uses them only with ``KFS_SOLUTIONS=1`` (CI); attendees see the blank.
One module per notebook; function names are unique across modules.
"""
