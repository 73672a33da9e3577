"""emviz: animate how EM fits a Gaussian mixture."""

from emviz.em import FitError, GaussianMixture
from emviz.errors import InputError
from emviz.mixture import Mixture
from emviz.recorder import Recorder
from emviz.trace import Trace

__version__ = "0.1.0"

__all__ = ["FitError", "GaussianMixture", "InputError", "Mixture", "Recorder", "Trace", "__version__"]
