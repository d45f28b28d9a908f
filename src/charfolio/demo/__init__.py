"""The demo's and tests' models: tiny diffusers models, tiny detectors, a reference-variation generator.

They register into the stages' registries; production code never names them."""
