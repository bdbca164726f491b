"""seglosses: segmentation losses and topology metrics for 2D and 3D medical imaging."""

from seglosses._checks import set_value_checks, value_checks
from seglosses.losses import *  # noqa: F403
from seglosses.losses import __all__ as _loss_names

__version__ = "0.1.0"
__all__ = [*_loss_names, "set_value_checks", "value_checks"]
