"""Figures of the studies, one module per study. Every function takes a study's
``result_`` (an :class:`xarray.Dataset`, fresh or loaded with :func:`dynnet.load`)
and plain arguments, returns matplotlib Figure(s) and never calls ``show()``.

====================  ========================================================
module                figures
====================  ========================================================
``perturbation``      :func:`plot_distances`, :func:`perturbation_figure`
``orbital``           :func:`orbital_figure`, :func:`eps_panels_figure`, :func:`drift_figure`,
                      :func:`dataset_figure`
``post_learning``     :func:`post_learning_figure`
``edge``              :func:`edge_figure`, :func:`lyapunov_eps_figure`, :func:`edge_long_figure`
``intermittency``     :func:`loss_norm_figure`, :func:`acf_figure`, :func:`kantz_figure`,
                      :func:`weights_figure`, :func:`compare_eta_figure`
``eta_scan``          :func:`phase_diagram_figure`
``sharpening``        :func:`sharpness_figure`, :func:`sharpening_eta_figure`
``regularization``    :func:`regularization_figure`, :func:`regularization_distance_figure`
``learning_window``   :func:`learning_window_figure`, :func:`accuracy_curves_figure`
``grid``              :func:`grid_figure`
``bifurcation``       :func:`bifurcation_figure`
``followup``          :func:`followup.followup_figure` (the follow-up protocol's figure, drawn
                      from the tables of ``dynnet reproduce --followup``, one per dataset)
``instability``       :func:`instability_alignment_figure`, :func:`instability_shares_figure`,
                      :func:`instability_ipr_figure`
``headline``          :func:`headline.headline_figure` (the README's figure, drawn from
                      ``edge.nc``: ``python -m dynnet.plotting.headline``)
====================  ========================================================

Notation in every title and label: η the learning rate, ε the perturbation
size, d(t) the distance between a perturbed copy and its reference orbit,
Λ the finite exponent of one initial condition, λ_nMLE the mean of the kept
Λ (the network maximal Lyapunov exponent), all written as mathtext; internal
names (``map__hidden``, ``finitelyapunov.mle``) are shown through one label map.
"""

from .bifurcation import bifurcation_figure
from .edge import edge_figure, edge_long_figure, lyapunov_eps_figure
from .eta_scan import phase_diagram_figure
from .grid import grid_figure
from .instability import instability_alignment_figure, instability_ipr_figure, instability_shares_figure
from .intermittency import acf_figure, compare_eta_figure, kantz_figure, loss_norm_figure, weights_figure
from .learning_window import accuracy_curves_figure, learning_window_figure
from .orbital import dataset_figure, drift_figure, eps_panels_figure, orbital_figure
from .perturbation import perturbation_figure, plot_distances
from .post_learning import post_learning_figure
from .regularization import regularization_distance_figure, regularization_figure
from .sharpening import sharpening_eta_figure, sharpness_figure

__all__ = [
    # bifurcation
    "bifurcation_figure",
    # perturbation
    "plot_distances",
    "perturbation_figure",
    # orbital
    "orbital_figure",
    "eps_panels_figure",
    "drift_figure",
    "dataset_figure",
    # post_learning
    "post_learning_figure",
    # edge
    "edge_figure",
    "lyapunov_eps_figure",
    "edge_long_figure",
    # intermittency
    "loss_norm_figure",
    "acf_figure",
    "kantz_figure",
    "weights_figure",
    "compare_eta_figure",
    # eta_scan
    "phase_diagram_figure",
    # sharpening
    "sharpness_figure",
    "sharpening_eta_figure",
    # regularization
    "regularization_figure",
    "regularization_distance_figure",
    # learning_window
    "learning_window_figure",
    "accuracy_curves_figure",
    # grid
    "grid_figure",
    # instability
    "instability_alignment_figure",
    "instability_shares_figure",
    "instability_ipr_figure",
]
