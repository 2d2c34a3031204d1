"""Small-area disease-mapping models and their engines.

- :mod:`.icar`: the adjacency graph, its components, scaling factors and eigenbasis,
  shared by every model and engine;
- :mod:`.bym2` (the pooled BYM2 in NumPyro, its NUTS engine), :mod:`.bym2_laplace` (the same
  by nested Laplace) and :mod:`.pooled` (its one fit path, engines by name);
- :mod:`.spacetime`: the space-time village model (:mod:`.spacetime.model`) and its one fit
  path, :func:`.spacetime.fit`, with the engines ``laplace`` (the private :mod:`._inla`:
  search and integration over θ, the latent field at one θ, banded Cholesky) and ``nuts``
  (:mod:`.spacetime.nuts`);
- :mod:`.mcmc`: what the NUTS engines share (JAX's compilation cache, summaries, R-hat, ESS).

A new engine of the space-time model is one function in :mod:`.spacetime` and one entry in
its ``ENGINES``.
"""

__all__ = ["bym2", "bym2_laplace", "icar", "mcmc", "pooled", "spacetime"]
