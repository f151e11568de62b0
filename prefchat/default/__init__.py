"""The embedded default domain: "assistant styles", with a SIMULATED population.

:mod:`.domain` loads the prompt files (prompts, candidate responses, style annotations);
:mod:`.population` simulates users who choose between responses and writes their choices as the
generic training CSVs, so that the default pack builds offline from files in the project.
"""

from .domain import DIMENSIONS, Domain, Prompt, PromptFileError, load_domain
from .population import (
    CalibrationError,
    ChoiceModel,
    Population,
    SimulatedUser,
    calibrate_temperature,
    simulate_population,
    true_model_ceiling,
    write_training_csvs,
)

__all__ = [
    "DIMENSIONS",
    "CalibrationError",
    "ChoiceModel",
    "Domain",
    "Population",
    "Prompt",
    "PromptFileError",
    "SimulatedUser",
    "calibrate_temperature",
    "load_domain",
    "simulate_population",
    "true_model_ceiling",
    "write_training_csvs",
]
