"""What callers hear and read, and the opening hours: flows/ loaded and checked once at start-up,
naming file and line."""
