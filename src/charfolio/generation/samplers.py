"""Sampler and sigma-schedule names, without importing diffusers.

The Snakefile validates configs and presets against these at every start (and every
cluster job re-reads the Snakefile), so they live apart from the scheduler classes in
`pipelines.py`, whose import pulls in torch and diffusers (seconds).
"""

SAMPLER_NAMES = ("dpmpp_2m", "dpmpp_2m_sde", "euler", "euler_ancestral", "ddim")
SIGMA_NAMES = ("default", "karras", "exponential")

# LoRA render keys whose null in config["render"] means "as config["generation"] has it".
INHERITED_RENDER_KEYS = ("steps", "guidance_scale", "width", "height", "sampler", "sigmas")

# diffusers.optimization.SchedulerType without piecewise_constant (it needs a rule string).
LR_SCHEDULER_NAMES = (
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
)  # fmt: skip
