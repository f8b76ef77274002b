"""Design-space exploration on top of the symbolic analysis: sweeps over attribute choices
(`sweep`), Pareto fronts and filters, and inverse questions (`solve`). Uses numpy."""
