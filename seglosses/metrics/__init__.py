"""seglosses.metrics."""
