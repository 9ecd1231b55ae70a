"""A deterministic synthetic sentiment set, generated offline.

Templated review sentences from positive/negative word lists, with negation that flips the
label. The sentiment words of the test split never occur in training, so a model must
generalise from its pretrained embeddings; a runtime that breaks the model falls toward 50%.
"""

from __future__ import annotations

import random

SUBJECTS = [
    "the movie",
    "this film",
    "the plot",
    "the acting",
    "the soundtrack",
    "the ending",
    "the cast",
    "the script",
    "the story",
    "the dialogue",
    "the cinematography",
    "the pacing",
    "the sequel",
    "the lead performance",
    "the finale",
    "this picture",
    "the screenplay",
    "the visual effects",
]
POSITIVE = {
    "train": [
        "good",
        "great",
        "excellent",
        "wonderful",
        "enjoyable",
        "delightful",
        "brilliant",
        "superb",
        "charming",
        "fantastic",
        "lovely",
        "pleasant",
        "beautiful",
        "impressive",
        "fun",
        "entertaining",
        "touching",
        "clever",
    ],
    "test": [
        "amazing",
        "terrific",
        "marvelous",
        "outstanding",
        "splendid",
        "magnificent",
        "heartwarming",
        "captivating",
        "fabulous",
        "stunning",
        "remarkable",
        "gorgeous",
        "exceptional",
        "fascinating",
        "uplifting",
        "masterful",
        "sublime",
        "witty",
    ],
}
NEGATIVE = {
    "train": [
        "bad",
        "terrible",
        "awful",
        "boring",
        "dull",
        "horrible",
        "poor",
        "weak",
        "tedious",
        "disappointing",
        "ugly",
        "annoying",
        "stupid",
        "bland",
        "messy",
        "forgettable",
        "lame",
        "sloppy",
    ],
    "test": [
        "dreadful",
        "disastrous",
        "lousy",
        "abysmal",
        "mediocre",
        "painful",
        "unbearable",
        "clumsy",
        "pathetic",
        "disgusting",
        "dismal",
        "insufferable",
        "miserable",
        "lifeless",
        "incoherent",
        "pointless",
        "irritating",
        "horrendous",
    ],
}
INTENSIFIERS = ["", "", "really ", "very ", "truly ", "quite ", "extremely ", "rather "]
OPENERS = ["", "", "honestly, ", "overall, ", "to be fair, ", "in my opinion ", "frankly, "]
# (template, negated): {s} subject, {i} intensifier, {a} sentiment word
TEMPLATES = [
    ("{s} was {i}{a}.", False),
    ("i thought {s} was {i}{a}.", False),
    ("{s} is {i}{a} from start to finish.", False),
    ("what a {i}{a} experience {s} turned out to be.", False),
    ("everyone agreed that {s} felt {i}{a}.", False),
    ("{s} was not {i}{a}.", True),
    ("i would not call {s} {a}.", True),
    ("{s} was never {i}{a}, not even once.", True),
    ("nobody could say {s} was {a}.", True),
    ("i expected {s} to be {a}, but it was not.", True),
]  # fmt: skip
SPLIT_SEEDS = {"train": 1_000_003, "test": 2_000_003}


def generate(split: str, n: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """`n` (text, label) pairs of the given split; label 1 = positive. Balanced, deterministic."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"split {split!r} is not one of {sorted(SPLIT_SEEDS)}")
    rng = random.Random(SPLIT_SEEDS[split] + seed)
    texts, labels = [], []
    for k in range(n):
        label = k % 2
        template, negated = rng.choice(TEMPLATES)
        # the word's polarity is flipped by negation, so pick it to give the wanted label
        positive_word = bool(label) != negated
        word = rng.choice(POSITIVE[split] if positive_word else NEGATIVE[split])
        sentence = template.format(s=rng.choice(SUBJECTS), i=rng.choice(INTENSIFIERS), a=word)
        texts.append(rng.choice(OPENERS) + sentence)
        labels.append(label)
    order = list(range(n))
    rng.shuffle(order)
    return [texts[i] for i in order], [labels[i] for i in order]
