"""The scheduler: its process and leader lock (scheduler.py), and its jobs as one-pass methods
callable directly (tasks.py)."""
