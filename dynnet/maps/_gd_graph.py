"""The graph view of GradientDescentMap: a flat state as a weighted DiGraph and back (private).

One job: :func:`to_graph` and its exact inverse :func:`from_graph`, as functions of a
prepared :class:`~dynnet.maps._gd_problem.Problem` (layer sizes, layout, activation).
Nodes are ``(layer, index)``; each connection is an edge whose ``weight`` is the entry
``W_l[i, j]`` of the flat state, each neuron's ``bias`` a node attribute.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

__all__ = ["from_graph", "to_graph"]


def to_graph(p, x: np.ndarray) -> nx.DiGraph:
    """The network of problem ``p`` at the flat state ``x`` ``(dim,)``.

    See :meth:`GradientDescentMap.to_graph` for the nodes, edges and graph attributes.
    """
    G = nx.DiGraph(sizes=p.sizes, activation=p.activation, loss=p.loss)
    n_layers = len(p.sizes)
    for lay, width in enumerate(p.sizes):
        role = "input" if lay == 0 else ("output" if lay == n_layers - 1 else "hidden")
        act = p.activation if role == "hidden" else "identity"
        for i in range(width):
            G.add_node((lay, i), layer=lay, index=i, role=role, bias=0.0, activation=act)
    for lay, (W, b) in enumerate(p.unpack(x), start=1):
        for j in range(W.shape[1]):
            G.nodes[(lay, j)]["bias"] = float(b[j])
        G.add_weighted_edges_from(
            ((lay - 1, i), (lay, j), float(W[i, j]))
            for i in range(W.shape[0]) for j in range(W.shape[1])
        )
    return G


def from_graph(p, G: nx.DiGraph, weight: str = "weight") -> np.ndarray:
    """The flat state ``(dim,)`` of a graph made by :func:`to_graph`, its exact inverse.

    A missing edge reads as weight 0 (a pruned connection); a missing node, other layer
    sizes or another activation are errors.
    """
    sizes = tuple(G.graph.get("sizes", p.sizes))
    if sizes != p.sizes:
        raise ValueError(f"GradientDescentMap: graph has layer sizes {sizes}, the map has {p.sizes}")
    act = G.graph.get("activation", p.activation)
    if act != p.activation:
        raise ValueError(f"GradientDescentMap: graph has activation {act!r}, the map has "
                         f"{p.activation!r}")
    x = np.zeros(p.dim)
    for lay, (w0, b0, _) in enumerate(p.offsets, start=1):
        n_in, n_out = p.sizes[lay - 1], p.sizes[lay]
        for j in range(n_out):
            if (lay, j) not in G:
                raise ValueError(f"GradientDescentMap: graph lacks neuron {(lay, j)}")
            x[b0 + j] = G.nodes[(lay, j)].get("bias", 0.0)
            for i in range(n_in):
                d = G.get_edge_data((lay - 1, i), (lay, j))
                if d is not None:
                    x[w0 + i * n_out + j] = d.get(weight, 0.0)
    return x
