"""Figures of the studies, one module per study. Every function takes a study's
``result_`` (an :class:`xarray.Dataset`, fresh or loaded with :func:`dynnet.load`)
and plain arguments, returns matplotlib Figure(s) and never calls ``show()``.

=================  ===========================================================
module             figures
=================  ===========================================================
``perturbation``   :func:`plot_distances`
``orbital``        :func:`orbital_figure`, :func:`eps_panels_figure`, :func:`drift_figure`,
                   :func:`dataset_figure`
``post_learning``  :func:`post_learning_figure`
``edge``           :func:`edge_figure`, :func:`lyapunov_eps_figure`, :func:`edge_long_figure`
``intermittency``  :func:`loss_norm_figure`, :func:`acf_figure`, :func:`kantz_figure`,
                   :func:`weights_figure`, :func:`compare_eta_figure`
``eta_scan``       :func:`phase_diagram_figure`
=================  ===========================================================

Notation in every title and label: η the learning rate, ε the perturbation
size, d(t) the distance between a perturbed copy and its reference orbit,
Λ the finite exponent of one initial condition, λ_nMLE the mean of the kept
Λ (the network maximal Lyapunov exponent).
"""

from .edge import edge_figure, edge_long_figure, lyapunov_eps_figure
from .eta_scan import phase_diagram_figure
from .intermittency import acf_figure, compare_eta_figure, kantz_figure, loss_norm_figure, weights_figure
from .orbital import dataset_figure, drift_figure, eps_panels_figure, orbital_figure
from .perturbation import plot_distances
from .post_learning import post_learning_figure

__all__ = [
    # perturbation
    "plot_distances",
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
]
