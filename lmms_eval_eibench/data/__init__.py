"""Data: the official files read, the dataset built and loaded, the tasks' documents."""
