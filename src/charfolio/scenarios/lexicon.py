"""Keyword lexicon that decides a scenario's category (professional, casual, ... other).

Entries are lowercase words or phrases, matched on word boundaries with an optional
plural "s"/"es" ("surfer" also matches "surfers"), longest entry first and without
overlap, so "skate park" counts once for athletic and not also "park" for casual.
An entry belongs to exactly one category (checked at import). Lighting and mood words
("golden hour", "soft light") and generic scene words ("city", "street") are in no
category on purpose: they describe the shot, not what the character is doing.
"""

from __future__ import annotations

SCENARIO_CATEGORIES = ("professional", "casual", "action", "artistic", "athletic", "other")


def _entries(text: str) -> tuple[str, ...]:
    return tuple(e.strip() for e in text.split(",") if e.strip())


LEXICON: dict[str, tuple[str, ...]] = {
    "professional": _entries("""
        accountant, analyst, architect, attorney, banker, barista, boardroom, briefcase,
        business, businessman, businesswoman, ceo, clinic, clinical, client, coworking,
        conference, consultant, contract, corporate, courtroom, cockpit, dentist, desk,
        diplomat, doctor, engineer, entrepreneur, executive, headshot, hospital, interview,
        journalist, judge, lab coat, laboratory, lawyer, lecture hall, lecturer, librarian,
        manager, meeting, news anchor, newsroom, nurse, office, pharmacist, physician, pilot,
        presentation, professional, professor, programmer, receptionist, reporter, researcher,
        scientist, skyscraper, software, spreadsheet, stethoscope, suit, surgeon, teacher,
        classroom, whiteboard, workplace, blazer, necktie, microscope, blueprint, chef,
        restaurant kitchen, veterinarian, paramedic, startup, trading floor, laptop, lectern,
        pitch deck, hard hat, construction site, sommelier, pharmacy, law firm, studio lights
    """),
    "casual": _entries("""
        apartment, backyard, baking, balcony, barbecue, bed, bedroom, blanket, board game,
        book, bookshop, bookstore, brunch, breakfast, cafe, cat, chatting, coffee,
        coffee shop, cooking, couch, cozy, cardigan, diner, dog, errand, farmers market,
        flea market, friend, grocery, hammock, home, hoodie, houseplant, jeans,
        kitchen table, laundry, living room, lounging, market, mug, neighborhood, pajamas,
        park, park bench, pet, picnic, pizza, porch, puppy, reading, relaxing, road trip,
        sandwich, selfie, shopping, smartphone, sofa, stroll, strolling, sweater, t-shirt,
        tea, teacup, texting, weekend, window seat, ice cream, casual, sunday, pub,
        street food, bakery, croissant, video game, movie night, scarf, beach, walking,
        sunbathing, garden, gardening, backpack, denim, flannel, ferris wheel, boardwalk
    """),
    "action": _entries("""
        action, adrenaline, bodyguard, brawl, burning, car chase, chase, chasing, combat,
        commando, crouching, danger, dangerous, debris, detective, dodging, escape, escaping,
        explosion, firefighter, flames, fleeing, getaway, heist, helicopter, leaping,
        mid-air, midair, motorcycle, motorbike, parkour, pursuit, rappelling, rescue,
        rescuing, rooftop, secret agent, skydiver, skydiving, smoke, soldier, sparks,
        speedboat, spy, stunt, stuntman, stuntwoman, swat, tactical, zipline, fighting,
        fistfight, police officer, cop, vaulting, jumping, collapsing, wreckage, explosive,
        storm chaser, bounty hunter, racing car, pursued, alleyway, crash, shattered,
        lifeguard, leather jacket, fire escape, downpour, hurricane, avalanche, battle
    """),
    "artistic": _entries("""
        actor, actress, artist, artistic, artwork, art studio, atelier, ballerina, ballet,
        band, calligraphy, canvas, cellist, cello, ceramic, choir, composer, concert,
        conductor, creative, dancer, dancing, designer, dj, drummer, drums, easel,
        exhibition, fashion designer, filmmaker, gallery, graffiti, guitar, guitarist,
        illustrator, jazz, mural, museum, musician, novelist, opera, orchestra, paintbrush,
        painter, painting, palette, photographer, pianist, piano, poet, poetry, potter,
        pottery, recording studio, rehearsal, saxophone, sculptor, sculpting, sculpture,
        singer, singing, sketchbook, sketching, stage, street performer, busker, tailor,
        theater, theatre, turntable, typewriter, violin, violinist, watercolor, writer,
        sewing, loom, weaving, film set, ink, microphone, pottery wheel, trumpet, flute,
        songwriter, vinyl, record shop, darkroom, charcoal, printmaking, film director
    """),
    "athletic": _entries("""
        athlete, athletic, barbell, baseball, basketball, bouldering, boxer, boxing,
        climber, climbing wall, coach, court, cricket, crossfit, cycling, cyclist,
        deadlift, dumbbell, fencing, finish line, fitness, football, golf, golfer, gym,
        hockey, jersey, jogger, jogging, judo, karate, kayak, kayaking, locker room,
        marathon, martial arts, martial artist, olympic, pilates, pool, push-up, racket,
        referee, rock climber, rock climbing, rowing, rugby, runner, running, skateboard,
        skateboarder, skate park, skier, skiing, snowboard, snowboarder, soccer, sport,
        sportswear, sprinter, sprinting, stadium, stretching, surfboard, surfer, surfing,
        swimmer, swimming, taekwondo, tennis, track, tracksuit, training, triathlon,
        volleyball, weightlifting, workout, wrestler, wrestling, yoga, archery, archer,
        mountain bike, trail run, medal, arena, sprint, tournament, championship, halfpipe,
        trampoline, gymnast, gymnastics, paddleboard, rower, scoreboard, goalkeeper,
        dribbling, treadmill, kettlebell, squat, velodrome, racetrack, hurdle
    """),
    "other": _entries("""
        ancient, android, archaeologist, armor, astronaut, baroque, beekeeper, blacksmith,
        bride, carnival, castle, cosplay, costume, cowboy, cyberpunk, desert, dragon,
        egyptian, elf, explorer, expedition, fantasy, farmer, festival, fisherman,
        futuristic, gladiator, gondolier, groom, halloween, haunted, historical, jungle,
        king, knight, lantern, lighthouse, lumberjack, masquerade, medieval, monastery,
        monk, nomad, palace, parade, pirate, post-apocalyptic, prince, princess, queen,
        renaissance, retro, robot, roman, ruins, safari, samurai, sci-fi, shepherd, shrine,
        outer space, space station, spaceship, spacesuit, starship, steampunk, superhero,
        temple, throne, time traveler, traveler, tourist, backpacker, underwater, victorian,
        viking, vintage, volcano, wasteland, wedding, witch, wizard, noir, 1920s, arctic,
        glacier, sorcerer, mythical, enchanted, fairy, alien, mars, moon base, scuba,
        caravan, oasis, cathedral, old west, saloon, train station, harbor,
        lighthouse keeper, hot air balloon, kimono, village, snowy forest, lavender field
    """),
}


def _check_disjoint() -> None:
    owner: dict[str, str] = {}
    for category, words in LEXICON.items():
        for word in words:
            if word in owner:
                raise ValueError(f"lexicon entry {word!r} is in both {owner[word]} and {category}")
            owner[word] = category


_check_disjoint()
