"""A topic's tags: names from the editors' vocabulary (with aliases), then salient names found
automatically, spelled the way the vocabulary spells them and never a blocked one.
"""

import dataclasses
import re
from collections.abc import Iterable

from topics.categories import compile_terms
from topics.entities import Entity
from topics.models import Tag

MAX_TAGS = 6


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    # Lower-cased name or alias -> the tag's display name.
    canonical: dict[str, str]
    blocked: frozenset[str]  # lower-cased names and aliases never to show
    patterns: dict[str, re.Pattern[str]]  # display name -> its name-or-aliases pattern

    def spell(self, name: str) -> str:
        return self.canonical.get(name.lower(), name)

    def allows(self, name: str) -> bool:
        return name.lower() not in self.blocked


EMPTY = Vocabulary({}, frozenset(), {})


def load_vocabulary() -> Vocabulary:
    canonical: dict[str, str] = {}
    blocked: set[str] = set()
    patterns: dict[str, re.Pattern[str]] = {}
    for tag in Tag.objects.all():
        terms = [tag.name, *tag.alias_list]
        if tag.is_blocked:
            blocked.update(t.lower() for t in terms)
            continue
        canonical.update((t.lower(), tag.name) for t in terms)
        pattern = compile_terms(terms)
        if pattern is not None:
            # Names are case-sensitive evidence: "Claude" the product, not "claude" the verb.
            patterns[tag.name] = re.compile(pattern.pattern)
    return Vocabulary(canonical, frozenset(blocked), patterns)


def tag_topic(
    vocabulary: Vocabulary,
    texts: list[str],
    found: Iterable[Entity],
    primary: str,
    limit: int = MAX_TAGS,
) -> list[str]:
    """Vocabulary tags the texts mention (most mentioned first), then automatic names."""
    joined = "\n".join(texts)
    counts = {name: len(p.findall(joined)) for name, p in vocabulary.patterns.items()}
    curated = sorted((n for n, c in counts.items() if c), key=lambda n: (-counts[n], n))
    automatic = [vocabulary.spell(e.name) for e in found]
    tags: list[str] = []
    for name in [*curated, *automatic]:
        if _keeps(name, tags, primary, vocabulary):
            tags.append(name)
    return tags[:limit]


def _keeps(name: str, tags: list[str], primary: str, vocabulary: Vocabulary) -> bool:
    if not vocabulary.allows(name) or len(name) < 2:
        return False
    taken = [primary, *tags] if primary else tags
    # "Competition Authority" says nothing "Arden Competition Authority" did not.
    return not any(_is_part(name, other) for other in taken)


def _is_part(name: str, other: str) -> bool:
    """Whether `name` is `other` or a run of its words."""
    return f" {name.lower()} " in f" {other.lower()} "
