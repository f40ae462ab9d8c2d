"""Run ids and random run names."""

from __future__ import annotations

import os
import re

from runlab._errors import InvalidRunId

ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
ID_LENGTH = 8
_CUSTOM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

_ADJECTIVES = [
    "amber",
    "brave",
    "bright",
    "calm",
    "clever",
    "cosmic",
    "crisp",
    "daring",
    "dazzling",
    "deft",
    "eager",
    "earnest",
    "fancy",
    "fearless",
    "fluent",
    "gentle",
    "gleaming",
    "golden",
    "graceful",
    "happy",
    "hardy",
    "honest",
    "humble",
    "icy",
    "jolly",
    "keen",
    "lively",
    "lucid",
    "lunar",
    "mellow",
    "mighty",
    "misty",
    "nimble",
    "noble",
    "patient",
    "polished",
    "proud",
    "quick",
    "quiet",
    "rapid",
    "ready",
    "royal",
    "rustic",
    "serene",
    "sharp",
    "silent",
    "silver",
    "sleek",
    "smooth",
    "snowy",
    "solar",
    "stellar",
    "steady",
    "stoic",
    "sunny",
    "swift",
    "tidy",
    "tranquil",
    "upbeat",
    "valiant",
    "vibrant",
    "vivid",
    "warm",
    "wild",
    "wise",
    "zesty",
]
_NOUNS = [
    "aurora",
    "badger",
    "beacon",
    "breeze",
    "canyon",
    "cedar",
    "comet",
    "condor",
    "coral",
    "cosmos",
    "crane",
    "delta",
    "dune",
    "ember",
    "falcon",
    "fern",
    "fjord",
    "forest",
    "galaxy",
    "glacier",
    "grove",
    "harbor",
    "hawk",
    "horizon",
    "island",
    "jaguar",
    "lagoon",
    "lake",
    "lantern",
    "lynx",
    "meadow",
    "meteor",
    "moon",
    "nebula",
    "oak",
    "ocean",
    "orbit",
    "otter",
    "panda",
    "peak",
    "pine",
    "planet",
    "prairie",
    "quasar",
    "rain",
    "raven",
    "reef",
    "river",
    "rocket",
    "sky",
    "snow",
    "spark",
    "star",
    "storm",
    "summit",
    "sun",
    "thunder",
    "tide",
    "valley",
    "wave",
    "willow",
    "wind",
    "wolf",
]


def new_id() -> str:
    """A random id of 8 characters from ``[a-z0-9]`` (collisions are checked by the store)."""
    out: list[str] = []
    while len(out) < ID_LENGTH:
        # Bytes below 252 (= 7 * 36) map to the alphabet without modulo bias.
        out.extend(ID_ALPHABET[b % 36] for b in os.urandom(2 * ID_LENGTH) if b < 252)
    return "".join(out[:ID_LENGTH])


def check_id(run_id: object) -> str:
    """Return a custom id if it is valid, else raise ``InvalidRunId`` stating the rule."""
    if not isinstance(run_id, str) or not _CUSTOM_ID.fullmatch(run_id):
        raise InvalidRunId(
            f"run id {run_id!r} is invalid: use 1-64 characters from A-Z a-z 0-9 _ -, "
            "starting with a letter or digit"
        )
    return run_id


def new_name() -> str:
    """A random ``adjective-noun-N`` run name."""
    return f"{_pick(_ADJECTIVES)}-{_pick(_NOUNS)}-{random_below(99) + 1}"


def random_below(n: int) -> int:
    """A uniform int in ``[0, n)`` from the OS's randomness (``secrets`` without its import
    cost: it pulls in hmac and OpenSSL, ~7 ms of ``import runlab``)."""
    bits = max(n - 1, 1).bit_length()
    while True:
        value = int.from_bytes(os.urandom((bits + 7) // 8), "little") >> (-bits % 8)
        if value < n:
            return value


def random_bits(k: int) -> int:
    """A uniform ``k``-bit int from the OS's randomness."""
    return int.from_bytes(os.urandom((k + 7) // 8), "little") >> (-k % 8)


def _pick(words: list[str]) -> str:
    return words[random_below(len(words))]
