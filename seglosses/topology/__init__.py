"""seglosses.topology."""
