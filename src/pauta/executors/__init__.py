"""Where tasks run: a warm local process pool, or inline in the driving process."""
