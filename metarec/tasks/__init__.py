"""Splitting users and building cold-start tasks (support and query sets)."""

from .episodes import ALL, Task, TaskSize, group_ratings, make_tasks, parse_shots, task_size_for
from .split import UserSplit, split_users

__all__ = ["ALL", "Task", "TaskSize", "UserSplit", "group_ratings", "make_tasks",
           "parse_shots", "split_users", "task_size_for"]
