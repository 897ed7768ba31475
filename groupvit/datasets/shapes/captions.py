"""Captions that name every visible object once, in varied sentence forms, as alt-texts would.

Every object is named by its class's caption name (singular, or plural when counted); colour
words appear where natural, a few texture words and spatial relations too. No caption ever uses
a word of `SYNONYMS`, and class words appear only for the classes present.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from groupvit.datasets.shapes.background import BACKGROUND_PHRASES
from groupvit.datasets.shapes.classes import PLURALS

NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
TEXTURE_WORDS = {"stripes": ("striped",), "dots": ("dotted", "spotted")}
# The sentence frames of a caption with the list of objects `{L}`; weights need not sum to one.
FRAMES = {
    "{L}": 3, "there {be} {L}": 2, "a picture of {L}": 1, "a photo of {L}": 1, "an image of {L}": 1,
    "{N} {shapes}: {L}": 1, "{L} {BG}": 2, "{L} in the picture": 1,
}
P_COLOUR_WORDS = 0.75  # captions that use colour words at all
P_COLOUR_EACH = 0.85  # then, each object's colour said
P_TEXTURE_WORD = 0.2
P_RELATION = 0.4  # two single objects: "a red star above a blue circle"
P_BACKGROUND_TAIL = 0.15  # other frames: "... on grass" appended


@dataclass(frozen=True)
class Mention:
    """One visible object as a caption sees it; `centre` (x, y) in pixels, `detail` a secondary colour."""

    class_name: str
    colour: str
    texture: str
    centre: tuple[float, float]
    detail: str | None = None  # the roof colour of a house


def article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def join(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def single(rng: np.random.Generator, mention: Mention, colours: bool) -> str:
    """"a red star", "a striped circle", "a house with a red roof", "a tree"."""
    if colours and mention.detail is not None and rng.random() < 0.3:
        return f"a {mention.class_name} with {article(mention.detail)} roof"
    words = []
    if mention.texture in TEXTURE_WORDS and rng.random() < P_TEXTURE_WORD:
        options = TEXTURE_WORDS[mention.texture]
        words.append(options[int(rng.integers(len(options)))])
    if colours and rng.random() < P_COLOUR_EACH:
        words.append(mention.colour)
    return article(" ".join([*words, mention.class_name]))


def relation(a: Mention, b: Mention, rng: np.random.Generator) -> str:
    """Where a lies from b, when the picture says so clearly; otherwise a neutral word."""
    dx, dy = a.centre[0] - b.centre[0], a.centre[1] - b.centre[1]  # image y grows downwards
    if abs(dy) > 1.5 * abs(dx) and rng.random() < 0.7:
        return "above" if dy < 0 else "below"
    if abs(dx) > 1.5 * abs(dy) and rng.random() < 0.7:
        return "to the left of" if dx < 0 else "to the right of"
    options = ("next to", "beside", "near", "and")
    return options[int(rng.integers(len(options)))]


def group_phrases(rng: np.random.Generator, mentions: list[Mention], colours: bool) -> list[tuple[str, int]]:
    """(phrase, objects it names) per class in order of first mention; two of a class are counted."""
    groups: dict[str, list[Mention]] = {}
    for mention in mentions:
        groups.setdefault(mention.class_name, []).append(mention)
    phrases = []
    for name, members in groups.items():
        if len(members) == 1:
            phrases.append((single(rng, members[0], colours), 1))
            continue
        number = NUMBER_WORDS[len(members)]
        shades = {m.colour for m in members}
        if colours and len(shades) == 1 and rng.random() < 0.8:
            phrases.append((f"{number} {members[0].colour} {PLURALS[name]}", len(members)))
        elif colours and len(shades) > 1 and rng.random() < 0.5:
            phrases.extend((single(rng, m, colours), 1) for m in members)
        else:
            phrases.append((f"{number} {PLURALS[name]}", len(members)))
    return phrases


def make_caption(rng: np.random.Generator, mentions: list[Mention], background: str) -> tuple[str, list[str]]:
    """(caption, nouns): nouns are the class names present, singular, in the order the caption names them."""
    if not mentions:
        raise ValueError("A caption needs at least one visible object. Received: mentions=[]")
    order = [mentions[int(i)] for i in rng.permutation(len(mentions))]
    colours = rng.random() < P_COLOUR_WORDS
    phrases = group_phrases(rng, order, colours)
    nouns = list(dict.fromkeys(m.class_name for m in order))
    tails = BACKGROUND_PHRASES[background]
    tail = tails[int(rng.integers(len(tails)))]
    if len(phrases) == 2 and len(order) == 2 and rng.random() < P_RELATION:
        text = f"{phrases[0][0]} {relation(order[0], order[1], rng)} {phrases[1][0]}"
        return (f"{text} {tail}" if rng.random() < P_BACKGROUND_TAIL else text), nouns
    frames = list(FRAMES)
    weights = np.array([FRAMES[f] for f in frames], dtype=np.float64)
    frame = frames[int(rng.choice(len(frames), p=weights / weights.sum()))]
    listed = join([p for p, _ in phrases])
    text = frame.format(L=listed, be="is" if phrases[0][1] == 1 else "are", N=NUMBER_WORDS[len(order)],
                        shapes="shape" if len(order) == 1 else "shapes", BG=tail)
    if "{BG}" not in frame and rng.random() < P_BACKGROUND_TAIL:
        text = f"{text} {tail}"
    return text, nouns


def background_noun(phrase: str) -> str:
    """The noun phrase a tagger would keep of a background phrase: "on a striped background" -> "striped
    background", "on grass" -> "grass"."""
    words = phrase.split()[1:]  # every phrase starts with "on"
    return " ".join(words[1:] if words[0] in ("a", "an") else words)


def name_background(caption: str, nouns: list[str], background: str, choice: int) -> tuple[str, list[str]]:
    """(caption, nouns) with the background always named: the caption keeps the background phrase it has,
    or gets its kind's phrase number `choice` (mod their count) appended; the phrase's noun goes last in
    the nouns. Uses no random draws, so a scene's image, mask and other words stay as they were."""
    phrases = BACKGROUND_PHRASES[background]
    said = [p for p in phrases if caption.endswith(" " + p)]
    phrase = said[0] if said else phrases[choice % len(phrases)]
    return (caption if said else f"{caption} {phrase}"), [*nouns, background_noun(phrase)]
