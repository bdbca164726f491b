"""seglosses.transforms."""
