"""emviz: animate how EM fits a Gaussian mixture."""

from emviz.errors import InputError
from emviz.mixture import Mixture
from emviz.trace import Trace

__version__ = "0.1.0"

__all__ = ["InputError", "Mixture", "Trace", "__version__"]
