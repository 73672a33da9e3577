"""The ``cloud3d`` panel: a 3D point cloud coloured by responsibility, with ellipsoids and a turning camera.

The recorded points are drawn once; per frame only their colours change (the responsibility-weighted
blend of the component colours), so the scatter's 3D offsets are set once by ``Axes3D.scatter`` and
never touched again (no writes to the private ``_offsets3d``). Each component's ellipsoid is one
``Line3DCollection`` whose segments are replaced per frame (``set_segments`` on a 3D collection sets
its 3D segments), which is cheaper and steadier than removing and re-adding ``plot_wireframe`` output.

The camera turns ``rotate_degrees`` over the whole trace. A panel sees iterations, not frame numbers,
so the azimuth follows the shown iteration: ``azim + rotate_degrees * t / T``. The view changes every
frame, so the panel is never blitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from mpl_toolkits.mplot3d.art3d import Line3DCollection

from emviz.errors import InputError
from emviz.render.panel import Panel, register_panel
from emviz.render.panels._common import (
    add_legend, check_features, check_fraction, check_legend, component_label, foreground, matched_truth,
    responsibility_rgba,
)
from emviz.render.panels._geometry import auto_point_size, axis_label, check_dims, check_point_size, view_limits

__all__ = ["Cloud3DPanel", "sphere_mesh", "ellipsoid_segments", "clear_turn", "foreshortening"]

_ASPECTS = ("equal", "auto")
#: Draw order, bottom to top (the axes' depth sort is switched off, see setup).
_Z_POINTS, _Z_WIRES, _Z_PATHS, _Z_MEANS = 1.0, 2.0, 3.0, 4.0
#: Ticks per axis: more crowd the short, foreshortened 3D axes.
_N_TICKS = 4
#: A turn ends at least this many degrees of azimuth away from a side-on view (a multiple of 90°,
#: where the x or y axis points at the camera and its tick labels pile onto each other).
SIDE_ON_MARGIN = 20.0
#: An axis drawn at this fraction of the box's longest side (at its most foreshortened over the turn)
#: keeps all ``_N_TICKS`` tick intervals; a shorter one proportionally fewer, down to 1.
_FULL_TICKS_AT = 0.8
#: The z label's distance from its tick labels, in points.
_Z_LABEL_PAD = 12.0
#: Box aspect of ``aspect="auto"`` (matplotlib's default) and the zoom that keeps labels inside the axes.
_AUTO_BOX, _ZOOM = (4.0, 4.0, 3.0), 0.8


def sphere_mesh(n_lon: int, n_lat: int) -> list[np.ndarray]:
    """Polylines of a unit-sphere wireframe: ``n_lon`` meridians and ``n_lat - 2`` parallels.

    Returns
    -------
    list of arrays of shape (P, 3)
        Meridians pole to pole (``n_lat`` points), then closed parallels (``n_lon + 1`` points).
    """
    lon = np.linspace(0.0, 2.0 * np.pi, n_lon + 1)
    lat = np.linspace(0.0, np.pi, n_lat)
    meridians = [np.column_stack([np.sin(lat) * np.cos(u), np.sin(lat) * np.sin(u), np.cos(lat)]) for u in lon[:-1]]
    # The poles are points, not rings: only the inner latitudes get a parallel.
    parallels = [np.column_stack([np.sin(v) * np.cos(lon), np.sin(v) * np.sin(lon), np.full_like(lon, np.cos(v))])
                 for v in lat[1:-1]]
    return meridians + parallels


def ellipsoid_segments(mean, covariance, level: float, mesh: list[np.ndarray]) -> list[np.ndarray]:
    """The wireframe ``mesh`` mapped onto the ellipsoid ``(x - mean)^T covariance^-1 (x - mean) = level^2``.

    Parameters
    ----------
    mean : array of shape (3,)
    covariance : array of shape (3, 3)
    level : float
        In standard deviations.
    mesh : list of arrays of shape (P, 3)
        Unit-sphere polylines (:func:`sphere_mesh`).

    Returns
    -------
    list of arrays of shape (P, 3)
    """
    values, vectors = np.linalg.eigh(np.asarray(covariance, dtype=np.float64))
    # x = mean + V sqrt(Lambda) s maps |s| = level onto the ellipsoid (eigh: covariance = V Lambda V^T).
    transform = vectors * (level * np.sqrt(np.clip(values, 0.0, None)))
    return [np.asarray(mean) + line @ transform.T for line in mesh]


@register_panel("cloud3d")
@dataclass
class Cloud3DPanel(Panel):
    """Recorded points in 3D coloured by responsibility, each component's ellipsoid and mean, a turning camera.

    Parameters
    ----------
    features : triple of int
        The data features on x, y and z (0-based); D > 3 shows the marginals on them.
    level : float
        The ellipsoids' radius in standard deviations.
    show_truth : bool
        Mark the true means (x) when the trace knows them.
    show_path : bool
        Draw the path each mean took up to the shown iteration.
    rotate_degrees : float
        How far the camera turns (azimuth) from the first to the last iteration; 0 keeps it still.
        The turn stops short of a side-on view: the last azimuth stays 20° clear of a multiple of 90°
        (on the way, a foreshortened axis gets fewer ticks).
    azim, elev : float
        The camera's azimuth at iteration 0 and its elevation, in degrees.
    mesh : pair of int
        Meridians and latitude rows of the ellipsoid wireframes.
    point_size : float, optional
        Marker area (points²). Default: from the number of points (30 down to 3).
    alpha : float
        Opacity of the points.
    aspect : {"equal", "auto"}
        ``equal``: one unit is as long on every axis (ellipsoids keep their shape); ``auto``: a cube.
    legend : bool or str
        ``True``/``"outside"``: right of the axes (below it, or smaller, when it is wider than the
        axes); a matplotlib location puts it inside; ``False``: none.
    """

    dims: ClassVar[tuple[int, ...]] = tuple(range(3, 65))
    projection: ClassVar[str] = "3d"
    blittable: ClassVar[bool] = False
    summary: ClassVar[str] = "3D points coloured by responsibility, 1-sigma ellipsoids, a turning camera"

    features: tuple[int, int, int] = (0, 1, 2)
    level: float = 1.0
    show_truth: bool = True
    show_path: bool = True
    rotate_degrees: float = 90.0
    azim: float = -60.0
    elev: float = 25.0
    mesh: tuple[int, int] = (16, 10)
    point_size: float | None = None
    alpha: float = 0.7
    aspect: str = "equal"
    legend: bool | str = True

    _trace: object = field(init=False, default=None, repr=False)
    _colors: list = field(init=False, default=None, repr=False)
    _sphere: list = field(init=False, default=None, repr=False)
    _artists: dict = field(init=False, default=None, repr=False)

    def __post_init__(self):
        def bad(option, must, value):
            return InputError(f"panel 'cloud3d': option {option!r} must be {must}, got {value!r}")

        self.features = check_features(self.features, 3, "cloud3d")
        for option in ("show_truth", "show_path"):
            if not isinstance(getattr(self, option), bool):
                raise bad(option, "true or false", getattr(self, option))
        for option in ("level", "rotate_degrees", "azim", "elev"):
            value = getattr(self, option)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise bad(option, "a number", value)
        if not self.level > 0:
            raise bad("level", "a positive number (standard deviations)", self.level)
        mesh = tuple(self.mesh) if isinstance(self.mesh, (list, tuple)) else ()
        if len(mesh) != 2 or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 3 for n in mesh):
            raise bad("mesh", "[meridians, latitude rows], integers >= 3", self.mesh)
        self.mesh = mesh
        check_point_size(self.point_size, "cloud3d")
        check_fraction(self.alpha, "alpha", "cloud3d")
        if self.aspect not in _ASPECTS:
            raise bad("aspect", f"one of {', '.join(_ASPECTS)}", self.aspect)
        check_legend(self.legend, "cloud3d")

    def check(self, trace_or_dims) -> None:
        """Also check ``features`` against the data's dimension."""
        check_dims(self, trace_or_dims)

    # ------------------------------------------------------------------ geometry
    def _marginals(self, trace):
        idx = np.asarray(self.features)
        return trace.means[:, :, idx], trace.covariances[:, :, idx][:, :, :, idx]

    def ellipsoid(self, t: int, k: int) -> list[np.ndarray]:
        """Wireframe polylines of component ``k``'s ellipsoid at iteration ``t``, arrays of shape (P, 3)."""
        means, covs = self._artists["marginals"]
        return ellipsoid_segments(means[t, k], covs[t, k], self.level, self._sphere)

    def azimuth(self, t: float) -> float:
        """The camera's azimuth at iteration ``t``: ``azim + turn * t / T`` (degrees), where ``turn`` is
        :func:`clear_turn` of ``rotate_degrees`` (``t + 0.5`` on a half-step's M-step frame)."""
        n_iter = self._trace.n_iter
        turn = clear_turn(self.azim, self.rotate_degrees)
        return float(self.azim + (turn * t / n_iter if n_iter > 0 else 0.0))

    def _limits(self, trace, means, covs, truth) -> list:
        half = self.level * np.sqrt(np.diagonal(covs, axis1=2, axis2=3)).reshape(-1, 3)
        flat = means.reshape(-1, 3)
        inside = [trace.X[:, list(self.features)], flat]
        if truth is not None:
            inside.append(truth.means[:, list(self.features)])
        return view_limits(np.concatenate(inside), flat - half, flat + half, frac=0.02)

    # ------------------------------------------------------------------ drawing
    def setup(self, ax, trace, colors) -> list:
        self.check(trace)
        self._trace = trace
        self._colors = [tuple(to_rgb(c)) for c in colors]
        self._sphere = sphere_mesh(*self.mesh)
        means, covs = self._marginals(trace)
        truth = matched_truth(trace) if self.show_truth else None
        pts = trace.resp_X[:, list(self.features)]
        size = self.point_size or auto_point_size(len(pts))
        # depthshade off: exact component colours in every frame (and in a GIF's palette); the turning
        # camera gives the depth cue instead.
        scatter = ax.scatter(pts[:, 0], pts[:, 1], pts[:, 2], s=size, edgecolors="none", depthshade=False,
                             zorder=_Z_POINTS)
        # Fixed draw order: matplotlib's depth sort of whole artists would bury the means in the cloud
        # at some camera angles and let them pop out at others.
        ax.computed_zorder = False
        self._artists = {"marginals": (means, covs), "points": scatter, "wireframes": [], "means": [], "paths": []}
        self._setup_components(ax, trace)
        if truth is not None:
            t_means = truth.means[:, list(self.features)]
            ax.plot(t_means[:, 0], t_means[:, 1], t_means[:, 2], ls="", marker="x", ms=9, mew=2.0,
                    color=foreground(), zorder=_Z_MEANS, gid="truth")
        limits = self._limits(trace, means, covs, truth)
        for setter, lim in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), limits):
            setter(*lim)
        # The layout is computed once, but the turning camera swings the axis labels around: a smaller
        # box leaves them room at every angle.
        box = [hi - lo for lo, hi in limits] if self.aspect == "equal" else _AUTO_BOX
        ax.set_box_aspect(box, zoom=_ZOOM)
        self._style_axes(ax, trace, box)
        self._add_legend(ax, trace, truth is not None, size)
        return self.update(0)

    def _setup_components(self, ax, trace) -> None:
        fg = foreground()
        art = self._artists
        for k in range(trace.n_components):
            color = self._colors[k]
            wire = Line3DCollection(self.ellipsoid(0, k), colors=[color], linewidths=0.6, alpha=0.5,
                                    zorder=_Z_WIRES)
            ax.add_collection3d(wire)
            art["wireframes"].append(wire)
            if self.show_path:
                art["paths"].append(ax.plot([], [], [], color=color, lw=1.3, alpha=0.9, zorder=_Z_PATHS)[0])
            art["means"].append(ax.plot([], [], [], ls="", marker="o", ms=9, mfc=color, mec=fg, mew=1.4,
                                        zorder=_Z_MEANS)[0])

    def _style_axes(self, ax, trace, box) -> None:
        """Transparent panes (the theme's background shows through, light or dark), labels from the data,
        and ticks that the axes hold at every angle of the turn."""
        a, b, c = self.features
        turn = clear_turn(self.azim, self.rotate_degrees)
        azimuths = self.azim + np.linspace(0.0, turn, 91)
        shortest = foreshortening(np.asarray(box, dtype=np.float64), azimuths, self.elev).min(axis=0)
        # Fixed for the whole animation (a tick count that changed with the angle would flicker).
        bins = np.clip(np.round(_N_TICKS * shortest / _FULL_TICKS_AT), 1, _N_TICKS).astype(int)
        for axis, n in zip((ax.xaxis, ax.yaxis, ax.zaxis), bins):
            axis.set_pane_color((0.0, 0.0, 0.0, 0.0))
            axis.set_major_locator(MaxNLocator(int(n)))
        ax.set_xlabel(axis_label(trace, a))
        ax.set_ylabel(axis_label(trace, b))
        # matplotlib's default pad lets the z label (beside its tick labels, not below) touch them.
        ax.set_zlabel(axis_label(trace, c), labelpad=_Z_LABEL_PAD)

    def _add_legend(self, ax, trace, with_truth: bool, size: float) -> None:
        handles = [Line2D([], [], color=self._colors[k], lw=1.0, marker="o", ms=7, mec=foreground(), mew=1.0,
                          label=component_label(k)) for k in range(trace.n_components)]
        if with_truth:
            handles.append(Line2D([], [], ls="", marker="x", ms=7, mew=1.8, color=foreground(), label="true mean"))
        add_legend(ax, handles, [h.get_label() for h in handles], self.legend)

    def update(self, t: int) -> list:
        t = range(self._trace.n_iter + 1)[t]
        return self._show(t, t, t)

    def update_frame(self, frame) -> list:
        """A half-step: ``frame.params``' ellipsoids and means over points in ``frame.resp``'s colours; the
        camera at ``frame.position`` (it keeps turning through both halves)."""
        return self._show(frame.params, frame.resp, frame.position)

    def _show(self, t: int, t_resp: int, position: float) -> list:
        art = self._artists
        means = art["marginals"][0]
        art["points"].set_facecolor(self.point_colors(t_resp))
        for k, wire in enumerate(art["wireframes"]):
            wire.set_segments(self.ellipsoid(t, k))
        for k, path in enumerate(art["paths"]):
            path.set_data_3d(means[: t + 1, k, 0], means[: t + 1, k, 1], means[: t + 1, k, 2])
        for k, mean in enumerate(art["means"]):
            mean.set_data_3d([means[t, k, 0]], [means[t, k, 1]], [means[t, k, 2]])
        ax = art["points"].axes
        azim = self.azimuth(position)
        ax.view_init(elev=self.elev, azim=azim)
        _z_axis_on_the_right(ax, azim)
        return [art["points"], *art["wireframes"], *art["paths"], *art["means"]]

    def point_colors(self, t: int) -> np.ndarray:
        """RGBA of the recorded points at iteration ``t``: ``resp[t] @ colors``, the panel's alpha; (M, 4)."""
        return responsibility_rgba(self._trace.resp[t], self._colors, self.alpha)


def _z_axis_on_the_right(ax, azim: float) -> None:
    """Draw the z axis (ticks and label) on the box's right-hand vertical edge at this azimuth.

    matplotlib's default edge swaps sides as the camera turns (for azimuths in (0, 90), among others,
    it is on the left), and the layout, computed once at the first frame, leaves no room there: the z
    label left the figure. Its ``"upper"`` edge is on the right for azimuths in [-90, 90], ``"lower"``
    for the other half turn.
    """
    side = "upper" if np.cos(np.radians(azim)) >= 0 else "lower"
    try:
        ax.zaxis.set_label_position(side)
        ax.zaxis.set_ticks_position(side)
    except ValueError:  # matplotlib < 3.8: a 3D axis has no choice of edge
        pass


def clear_turn(azim: float, rotate_degrees: float) -> float:
    """``rotate_degrees``, shortened so that the turn ends :data:`SIDE_ON_MARGIN` clear of a side-on view.

    A turn that would end within the margin of a multiple of 90° stops at the margin's near edge (on the
    side it comes from); a turn too short for that (or none) is kept as asked.
    """
    end = azim + rotate_degrees
    nearest = 90.0 * np.round(end / 90.0)
    if rotate_degrees == 0 or abs(end - nearest) >= SIDE_ON_MARGIN:
        return float(rotate_degrees)
    shortened = nearest - np.sign(rotate_degrees) * SIDE_ON_MARGIN - azim
    return float(shortened) if shortened * rotate_degrees > 0 else float(rotate_degrees)


def foreshortening(box, azimuths, elev: float) -> np.ndarray:
    """On-screen length of each axis of a 3D box, as a fraction of the box's longest side, per view.

    Parameters
    ----------
    box : array of shape (3,)
        The box's side lengths (its aspect).
    azimuths : array of shape (A,)
        Camera azimuths in degrees.
    elev : float
        The camera's elevation in degrees.

    Returns
    -------
    array of shape (A, 3)
        ``box_i / max(box) * sqrt(1 - (e_i . v)^2)`` for the unit view direction ``v`` (an
        orthographic camera; matplotlib's default perspective is close to it).
    """
    az, el = np.radians(np.asarray(azimuths, dtype=np.float64)), np.radians(elev)
    view = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.full_like(az, np.sin(el))], axis=1)
    return np.asarray(box) / np.max(box) * np.sqrt(np.clip(1.0 - view**2, 0.0, None))
