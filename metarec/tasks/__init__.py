"""Splitting users and building cold-start tasks (support and query sets)."""

from .episodes import ALL, Task, group_ratings, make_tasks, parse_shots
from .split import UserSplit, split_users

__all__ = ["ALL", "Task", "UserSplit", "group_ratings", "make_tasks", "parse_shots",
           "split_users"]
