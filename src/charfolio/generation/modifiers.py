"""Multi-batch modifiers: small variations of expression, angle and light around one look.

The methodology's third generation mode: same character, no scenario, a modifier that
changes the shot but not the context, so seeds and modifiers add controlled variety.
"""

EXPRESSIONS = ("soft smile", "laughing", "serious expression", "thoughtful look", "surprised look")
ANGLES = (
    "frontal view",
    "three-quarter view",
    "slight profile",
    "looking over shoulder",
    "head tilted",
)
LIGHTS = (
    "soft window light",
    "golden hour light",
    "overcast daylight",
    "studio rim light",
    "warm lamp light",
)


def default_multi_batch_modifiers() -> list[str]:
    """25 modifiers: every expression with every angle, lights rotating through."""
    return [
        f", {expr}, {angle}, {LIGHTS[(i + j) % len(LIGHTS)]}"
        for i, expr in enumerate(EXPRESSIONS)
        for j, angle in enumerate(ANGLES)
    ]
