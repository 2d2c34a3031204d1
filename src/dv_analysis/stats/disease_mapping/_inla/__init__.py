"""The nested-Laplace engine of the space-time model (private: called through
:func:`dv_analysis.stats.disease_mapping.spacetime.fit`): :mod:`.laplace` (the search and
integration over θ), :mod:`.latent` (the latent Gaussian field at one θ), :mod:`.gmrf`
(banded Cholesky after a reverse Cuthill–McKee ordering)."""

__all__ = ["gmrf", "latent", "laplace"]
