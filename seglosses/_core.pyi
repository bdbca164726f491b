# The compiled core (seglosses/csrc, nanobind): its functions are checked and wrapped by seglosses.topology.
from typing import Any

def __getattr__(name: str) -> Any: ...
