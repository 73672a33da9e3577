"""The built-in panels. Importing this package registers every panel module listed here."""

from emviz.render.panels import components, loglik_contour, responsibilities  # noqa: F401
from emviz.render.panels import cloud3d, ellipses  # noqa: F401
from emviz.render.panels import curves, loglik_surface  # noqa: F401
from emviz.render.panels import model_selection  # noqa: F401
