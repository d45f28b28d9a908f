"""The template grammar's vocabulary: per category, coherent scenes, lights and moods.

Roles, actions and places come in coherent scenes (a surgeon is not put on a surfboard);
every phrase of a category's vocabulary contains only that category's lexicon keywords (or
none), and every scene has a slot whose phrases all contain one, so `categorize()` of each
line the grammar writes is its category (tests/unit/test_scenarios.py checks the whole
vocabulary).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scene:
    roles: tuple[str, ...]
    actions: tuple[str, ...]
    places: tuple[str, ...]  # read after "in"


@dataclass(frozen=True)
class Vocabulary:
    scenes: tuple[Scene, ...]
    lights: tuple[str, ...]
    moods: tuple[str, ...]


def _s(roles: str, actions: str, places: str) -> Scene:
    def split(text: str) -> tuple[str, ...]:
        return tuple(p.strip() for p in text.split("|"))

    return Scene(split(roles), split(actions), split(places))


VOCABULARY: dict[str, Vocabulary] = {
    "professional": Vocabulary(
        scenes=(
            _s(
                "doctor | surgeon | physician",
                "reviewing patient charts | holding a stethoscope | consulting with a colleague",
                "a bright hospital corridor | a modern clinic | a hospital ward",
            ),
            _s(
                "business executive | financial analyst | corporate lawyer",
                "presenting quarterly results | leading a strategy meeting | reviewing a contract",
                "a glass boardroom | a corner office | a skyscraper lobby",
            ),
            _s(
                "research scientist | biology researcher | scientist in a lab coat",
                "examining a sample under a microscope | writing formulas on a whiteboard"
                " | calibrating precise instruments",
                "a clean laboratory | a university laboratory | a research facility",
            ),
            _s(
                "university professor | guest lecturer | high school teacher",
                "giving a lecture | explaining a diagram on a whiteboard"
                " | grading essays at a desk",
                "a tiered lecture hall | a sunlit classroom | a faculty office",
            ),
            _s(
                "news anchor | investigative journalist | field reporter",
                "preparing the evening headlines | taking notes during an interview"
                " | checking facts on a laptop",
                "a busy newsroom | a television newsroom | a press office",
            ),
            _s(
                "airline pilot | commercial pilot | cargo pilot",
                "checking instruments before takeoff | reviewing a flight plan"
                " | adjusting a headset",
                "a cockpit | an airline crew office | a modern cockpit",
            ),
            _s(
                "head chef | pastry chef | sous chef",
                "plating a delicate dish | tasting a sauce | inspecting fresh ingredients",
                "a restaurant kitchen | a stainless steel restaurant kitchen"
                " | a busy restaurant kitchen",
            ),
            _s(
                "architect | civil engineer | site engineer",
                "studying blueprints | pointing at a building model | wearing a hard hat",
                "a construction site | a design office | an architecture office",
            ),
        ),
        lights=(
            "clean even lighting",
            "cool fluorescent light",
            "crisp natural daylight",
            "soft key light",
            "neutral overhead light",
        ),
        moods=(
            "confident expression",
            "focused look",
            "composed smile",
            "serious expression",
            "calm authority",
            "approachable smile",
        ),
    ),
    "casual": Vocabulary(
        scenes=(
            _s(
                "coffee lover | weekend regular | laid-back student",
                "sipping a latte | flipping through a magazine | chatting with a friend",
                "a cozy coffee shop | a sunny sidewalk cafe | a corner cafe",
            ),
            _s(
                "homebody | home cook | relaxed roommate",
                "curled up under a blanket | baking cookies | watering houseplants",
                "a sunlit living room | a cozy apartment | a small home kitchen",
            ),
            _s(
                "dog owner | weekend walker | picnic guest",
                "playing fetch with a puppy | lying on a picnic blanket"
                " | feeding ducks by the pond",
                "a leafy city park | a neighborhood park | a public garden",
            ),
            _s(
                "market visitor | weekend shopper | curious foodie",
                "browsing fresh produce | carrying a paper grocery bag | tasting street food",
                "a busy farmers market | an open-air flea market | a covered market hall",
            ),
            _s(
                "beachgoer | vacationer | sunbather",
                "walking barefoot along the shore | building a sandcastle"
                " | relaxing under an umbrella",
                "a sandy beach | a quiet beach town | a seaside boardwalk",
            ),
            _s(
                "bookworm | book lover | weekend reader",
                "browsing dusty shelves | reading a paperback | sorting a stack of novels",
                "a quiet bookshop | a secondhand bookstore | a window seat nook",
            ),
        ),
        lights=(
            "warm natural light",
            "soft afternoon sun",
            "golden hour glow",
            "dappled shade",
            "cheerful daylight",
        ),
        moods=(
            "easy smile",
            "relaxed posture",
            "carefree laugh",
            "content expression",
            "candid moment",
        ),
    ),
    "action": Vocabulary(
        scenes=(
            _s(
                "secret agent | undercover detective | bounty hunter",
                "leaping between buildings | racing down a fire escape | dodging flying debris",
                "a rain-slicked alleyway | a neon-lit rooftop | a derelict rail yard",
            ),
            _s(
                "firefighter | rescue worker | wildland firefighter",
                "carrying a survivor through smoke | breaking through a burning doorway"
                " | climbing a ladder through flames",
                "a burning warehouse | a smoke-filled corridor | a collapsing building",
            ),
            _s(
                "stunt driver | getaway driver | motorcycle courier",
                "drifting around a corner | jumping a barrier at full speed"
                " | leaning into a sharp turn",
                "a long tunnel | a highway overpass | an industrial port",
            ),
            _s(
                "soldier | tactical operator | commando",
                "crouching behind cover | advancing through smoke | signalling the squad",
                "a bombed-out street | a foggy forest | an abandoned factory",
            ),
            _s(
                "skydiver | wingsuit flyer | stunt performer",
                "free-falling mid-air | leaping from an open helicopter door"
                " | spreading arms in midair",
                "a vast canyon | the open sky above the clouds | a mountain valley",
            ),
            _s(
                "storm chaser | avalanche rescue guide | search and rescue volunteer",
                "bracing against a violent wind | shielding eyes from debris"
                " | escaping a wall of rain",
                "a tornado-torn prairie | a hurricane-battered town"
                " | an open field under a supercell",
            ),
        ),
        lights=(
            "harsh backlight",
            "flickering orange glow",
            "high-contrast cinematic light",
            "stormy gray light",
            "strobing emergency lights",
        ),
        moods=(
            "intense determination",
            "gritted teeth",
            "fierce focus",
            "urgent motion blur",
            "dynamic pose",
        ),
    ),
    "artistic": Vocabulary(
        scenes=(
            _s(
                "painter | abstract artist | watercolor artist",
                "working on a large canvas | mixing colors on a palette"
                " | stepping back to study a painting",
                "a sunlit art studio | a cluttered atelier | a loft studio",
            ),
            _s(
                "rock musician | jazz guitarist | bass guitarist",
                "playing a guitar solo | tuning a guitar | leaning into the microphone",
                "a dim jazz club | a concert stage | a small rehearsal room",
            ),
            _s(
                "concert pianist | violinist | cellist",
                "performing a solo | rehearsing alone | bowing to the audience",
                "an ornate concert hall | a quiet rehearsal room | an opera house",
            ),
            _s(
                "ballet dancer | contemporary dancer | ballerina",
                "holding an arabesque | spinning in a pirouette | lacing pointe shoes",
                "a mirrored dance studio | a grand theater stage | a backstage corridor",
            ),
            _s(
                "potter | ceramic artist | studio potter",
                "shaping a bowl on a pottery wheel | glazing handmade cups | trimming a wet vase",
                "a rustic pottery workshop | a sunlit ceramic studio | a small craft atelier",
            ),
            _s(
                "novelist | poet | songwriter",
                "typing on a typewriter | scribbling in a notebook | crossing out a draft",
                "an attic studio | a quiet writing room | a cluttered atelier",
            ),
            _s(
                "street photographer | fashion photographer | documentary photographer",
                "framing a shot | checking contact sheets | changing a lens",
                "a darkroom | a bustling photo studio | a gallery opening",
            ),
        ),
        lights=(
            "soft north light",
            "warm tungsten glow",
            "moody chiaroscuro light",
            "dusty shafts of light",
            "colored gel lights",
        ),
        moods=(
            "absorbed concentration",
            "dreamy expression",
            "quiet passion",
            "expressive gesture",
            "lost in thought",
        ),
    ),
    "athletic": Vocabulary(
        scenes=(
            _s(
                "marathon runner | trail runner | sprinter",
                "crossing the finish line | pushing through the final stretch"
                " | tying running shoes",
                "a city marathon course | a track stadium | a mountain trail",
            ),
            _s(
                "tennis player | tennis coach | tennis pro",
                "returning a backhand | tossing the ball to serve | celebrating match point",
                "a clay court | a grass court | an indoor tennis arena",
            ),
            _s(
                "gym regular | fitness coach | crossfit athlete",
                "lifting a heavy barbell | resting between sets | doing kettlebell swings",
                "a gritty warehouse gym | a modern fitness center | a crossfit box",
            ),
            _s(
                "competitive swimmer | open water swimmer | olympic swimmer",
                "diving off the starting block | gliding through a lane"
                " | adjusting goggles at the edge",
                "an olympic pool | an indoor aquatic center | a long training pool",
            ),
            _s(
                "surfer | big wave surfer | longboard surfer",
                "carving a wave | paddling out past the break | carrying a surfboard",
                "a rocky point break | a wild coastline | a turquoise bay",
            ),
            _s(
                "basketball player | soccer player | volleyball player",
                "celebrating a winning point | warming up before the game"
                " | huddling with teammates",
                "a packed stadium | an indoor sports arena | a floodlit training ground",
            ),
            _s(
                "rock climber | bouldering athlete | alpine climber",
                "reaching for a high hold | chalking up hands | hanging from an overhang",
                "a granite cliff face | a climbing gym | a sandstone canyon",
            ),
            _s(
                "yoga instructor | yoga practitioner | yoga devotee",
                "holding a warrior pose | balancing in tree pose | breathing deeply on a mat",
                "a serene yoga studio | a bamboo pavilion | a bright yoga loft",
            ),
        ),
        lights=(
            "crisp morning light",
            "harsh midday sun",
            "cool blue dusk",
            "bright even light",
            "golden backlight",
        ),
        moods=(
            "determined stare",
            "sweat-beaded focus",
            "triumphant grin",
            "athletic poise",
            "steady breathing",
        ),
    ),
    "other": Vocabulary(
        scenes=(
            _s(
                "astronaut | mission specialist | spacewalking specialist",
                "floating weightless | repairing a solar panel | looking out a porthole",
                "a space station | a moon base | an orbiting space station",
            ),
            _s(
                "knight in armor | wandering knight | knight errant",
                "kneeling before a banner | riding a warhorse | raising a longsword",
                "a misty castle courtyard | a medieval great hall | a torchlit castle keep",
            ),
            _s(
                "wizard | elf ranger | sorcerer",
                "casting a glowing spell | studying an ancient tome | summoning swirling light",
                "an enchanted forest | a crooked wizard tower | ancient ruins",
            ),
            _s(
                "cowboy | frontier sheriff | cattle rancher",
                "leaning on a saloon door | tipping a hat | riding across the plains",
                "a dusty old west town | a desert canyon | a wooden saloon",
            ),
            _s(
                "victorian aristocrat | 1920s socialite | renaissance noble",
                "posing with a pocket watch | attending a grand ball"
                " | descending a marble staircase",
                "a gilded ballroom | a baroque palace | a candlelit manor",
            ),
            _s(
                "traveler | backpacker | tourist",
                "exploring narrow lanes | studying a paper map | riding a vintage tram",
                "an old mediterranean village | a bustling train station | a mountain temple",
            ),
            _s(
                "cyberpunk hacker | android | starship captain",
                "scanning a holographic display | standing under glowing signs"
                " | adjusting a cybernetic arm",
                "a neon cyberpunk city | a futuristic megacity | a starship bridge",
            ),
            _s(
                "masquerade guest | lantern festival visitor | carnival reveler",
                "releasing a paper lantern | wearing an ornate mask | watching fireworks",
                "a night lantern festival | a venetian masquerade ball | a crowded parade route",
            ),
            _s(
                "pirate captain | viking raider | old sea explorer",
                "gripping the ship's wheel | standing at the bow | scanning the horizon",
                "a wooden pirate ship | a stormy fjord | a hidden pirate cove",
            ),
        ),
        lights=(
            "eerie blue moonlight",
            "dramatic rim light",
            "ethereal glow",
            "warm candlelight",
            "hazy sunset light",
        ),
        moods=(
            "mysterious expression",
            "sense of wonder",
            "regal bearing",
            "adventurous spirit",
            "wistful gaze",
        ),
    ),
}
