"""wherewhen: interpretable video action recognition that shows where and when a model looks."""

from wherewhen.errors import WherewhenError

__version__ = "0.1.0"
__all__ = ["WherewhenError", "__version__"]
