"""Names a topic is about: capitalised words and multiword proper nouns that recur.

No model, just evidence in the text: a run of capitalised tokens ("Nathan Lambert", "Bank of
England", "ChatGPT", "Gemini 3") counts when it recurs across a topic's articles or sits in a
headline. A capitalised word that opens a sentence is only kept when the text also uses it
capitalised mid-sentence, which drops "Officials" and "However" but keeps "Lumora".
"""

import dataclasses
import re
from collections import defaultdict
from collections.abc import Set as AbstractSet


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that are capitalised for grammar, not because they name something.
COMMON_WORDS = _words(
    """
    a about after all also an and another any are as at be because before but by can could
    did do does during each even every few for from had has have he her here his how however
    i if in into is it its just last later many may meanwhile more most much my next no
    not now of on once one only or other our over per since so some still such than that the
    their them then there these they this those though through to today tomorrow under until
    up us was we were what when where whether which while who why will with would yesterday
    yet you your mr mrs ms dr sir monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    breaking update updated exclusive opinion analysis editorial watch video photo photos read
    live report reports according said says i'm i'll i've i'd it's he's she's that's there's
    we're they're you're don't can't won't jan feb mar apr jun jul aug sep sept oct nov dec
    """
)
# Lower-case words allowed inside a name: "Bank of England", "Leonardo da Vinci".
CONNECTORS = frozenset({"of", "de", "da", "del", "van", "von", "der", "la", "le"})
# Titles before a name: "Senate Majority Leader Harry Reid" is Harry Reid.
ROLES = _words(
    """
    president vice senator sen rep representative congressman congresswoman gov governor mayor
    chairman chairwoman chair secretary minister prime judge justice chief executive ceo
    professor prof king queen prince princess pope general gen lt col speaker leader majority
    minority former acting deputy ambassador commissioner director founder cofounder staff
    attorney spokesman spokeswoman spokesperson analyst host anchor correspondent editor
    candidate nominee member officer adviser advisor aide economist coach captain manager
    lawyer head novelist author writer poet artist singer maintainer researcher scientist
    designer engineer
    """
)
# Abbreviations whose full stop ends neither a sentence nor a name.
ABBREVIATIONS = _words(
    "mr mrs ms dr st mt ft sen rep gov gen lt col jr sr prof rev jan feb mar apr jun jul aug sep "
    "sept oct nov dec"
)
# Capitalised at the start of a sentence but not part of the name after them: "Expect Orbitly to
# appeal", "Retailer Parcelo said", "Introducing Lumora Studio". Words ending in -ing count too.
OPENERS = _words(
    """
    expect expects expected meet inside behind why how what where when introducing retailer
    retailers carmaker chipmaker startup rival rivals regulator regulators developer developers
    insurer lender airline operator broadcaster publisher brewer miner maker makers grocer
    supermarket shoppers watchdog union unions council police officials customers users fans
    critics experts scientists researchers traders investors exporters importers residents
    commuters farmers parents teachers doctors nurses patients workers see ask join new
    """
)
# Longer capitalised runs are headlines in Title Case, not names.
MAX_NAME_WORDS = 5

# A word: letters and digits, with inner apostrophes, dots, dashes ("U.S", "GPT-4", "O'Neil").
_TOKEN = re.compile(r"[^\W_]+(?:[’'.\-&][^\W_]+)*")
_ENDS_SENTENCE = re.compile(r"[.!?:\n]")
_POSSESSIVE = re.compile(r"[’']s$")


@dataclasses.dataclass(frozen=True)
class Entity:
    name: str
    documents: int  # how many articles mention it
    mentions: int
    in_title: bool
    titles: int = 0  # how many headlines name it

    @property
    def salience(self) -> float:
        return 2.0 * self.documents + 0.25 * min(self.mentions, 20) + 2.0 * self.in_title


@dataclasses.dataclass
class _Evidence:
    names: list[tuple[list[str], bool]] = dataclasses.field(default_factory=list)
    mid_sentence: set[str] = dataclasses.field(default_factory=set)
    lowercase: set[str] = dataclasses.field(default_factory=set)


def extract_entities(
    titles: list[str], texts: list[str], exclude: AbstractSet[str] = frozenset(), limit: int = 8
) -> list[Entity]:
    """The topic's recurring names, most salient first; `exclude` drops e.g. source names.

    `titles[i]` and `texts[i]` belong to the same article.
    """
    bodies = [_scan(_without_title(title, text)) for title, text in zip(titles, texts, strict=True)]
    heads = [_scan(title) for title in titles]
    # Headline Case says nothing about which words are names.
    plain_heads = [e for title, e in zip(titles, heads, strict=True) if not _is_title_case(title)]
    mid_sentence = set().union(*(e.mid_sentence for e in bodies + plain_heads))
    lowercase = set().union(*(e.lowercase for e in bodies + heads))

    def names(evidence: _Evidence) -> list[str]:
        found = (
            _resolve(words, initial, mid_sentence, lowercase) for words, initial in evidence.names
        )
        return [name for name in found if name]

    mentions: dict[str, list[int]] = defaultdict(list)
    for n, evidence in enumerate(bodies):
        for name in names(evidence):
            mentions[name].append(n)
    in_titles: dict[str, int] = defaultdict(int)
    for title, evidence in zip(titles, heads, strict=True):
        found = set(names(evidence))
        # Headline Case capitalises every word: trust only names the bodies confirm.
        for name in found & set(mentions) if _is_title_case(title) else found:
            in_titles[name] += 1
    for name in in_titles:
        mentions.setdefault(name, [])
    mentions = _fold_parts(mentions, in_titles)
    dropped = {e.lower() for e in exclude}
    entities = [
        Entity(name, len(set(docs)), len(docs), name in in_titles, in_titles.get(name, 0))
        for name, docs in mentions.items()
        if name.lower() not in dropped
    ]
    kept = [e for e in entities if _recurs(e, len(texts))]
    kept.sort(key=lambda e: (-e.salience, e.name))
    return kept[:limit]


def _without_title(title: str, text: str) -> str:
    # Some feeds repeat the headline as the body's first line.
    return text[len(title) :] if title and text.startswith(title) else text


def _recurs(entity: Entity, n_documents: int) -> bool:
    if entity.in_title:
        return True
    if n_documents > 1:
        return entity.documents >= 2
    return entity.mentions >= 2


def _scan(text: str) -> _Evidence:
    """Runs of capitalised words (and whether each opens a sentence), plus word-case evidence."""
    evidence = _Evidence()
    run: list[str] = []
    run_initial = at_start = True

    def flush() -> None:
        nonlocal run
        if run:
            evidence.names.append((run, run_initial))
        run = []

    previous_end, previous = 0, ""
    for match in _TOKEN.finditer(text):
        gap = text[previous_end : match.start()]
        previous_end = match.end()
        if gap.strip() == "." and _is_abbreviation(previous):
            if run:
                run[-1] += "."  # "St. Louis", "George W. Bush", "U.S. Senate"
            gap = " "
        if gap.strip() or "\n" in gap:  # punctuation or a line break ends a name
            flush()
        at_start = at_start or bool(_ENDS_SENTENCE.search(gap))
        word = previous = _POSSESSIVE.sub("", match.group())
        if _is_name_word(word) and not _is_unit(text, match.start()):
            if not at_start:
                evidence.mid_sentence.add(word)
            if not run:
                run_initial = at_start
            run.append(word)
            if word != match.group():
                flush()  # "Twitter's Adam Sharp" is two names
        elif run and word in CONNECTORS:
            run.append(word)
        elif run and word.isdigit() and len(word) <= 4:
            run.append(word)  # "Gemini 3", "Windows 11"
            flush()
        else:
            flush()
            if word.islower():
                evidence.lowercase.add(word)
        at_start = False
    flush()
    return evidence


def _resolve(
    words: list[str], initial: bool, mid_sentence: set[str], lowercase: set[str]
) -> str | None:
    """The name a run stands for, or None when it is only grammar."""
    first = words[0]
    if initial and (first.lower() in lowercase or (len(words) == 1 and first not in mid_sentence)):
        words = words[1:]  # "Officials", "Analysts say": capitalised only by position
    elif initial and first not in mid_sentence and _is_opener(first):
        words = words[1:]  # "Expect Orbitly", "Introducing Lumora Studio"
    roles = [n for n, word in enumerate(words[:-1]) if _plain(word) in ROLES]
    if roles:
        words = words[roles[-1] + 1 :]  # "Senate Majority Leader Harry Reid" is Harry Reid
    while words and (words[0] in CONNECTORS or _plain(words[0]) in COMMON_WORDS):
        words = words[1:]
    while words and (words[-1] in CONNECTORS or _plain(words[-1]) in COMMON_WORDS):
        words = words[:-1]
    if not words or len(words) > MAX_NAME_WORDS or words[0].isdigit():
        return None
    if len(words) == 1:
        word = words[0]
        too_short = len(word) < 2 or (len(word) < 3 and not word.isupper())
        if word.lower() in lowercase or too_short:
            return None
    return " ".join(words)


def _is_opener(word: str) -> bool:
    plain = _plain(word)
    return plain in OPENERS or (plain.endswith("ing") and len(plain) > 5)


def _is_unit(text: str, start: int) -> bool:
    # "38°C", "12kW": a letter glued to a number or a degree sign is a unit, not a name.
    return start > 0 and (text[start - 1].isdigit() or text[start - 1] in "°%")


def _plain(word: str) -> str:
    return word.rstrip(".").lower().replace("’", "'")


def _is_abbreviation(word: str) -> bool:
    # An initial ("W."), a title ("Mr.", "St.") or a dotted acronym ("U.S.", "N.A.A.C.P.").
    return (len(word) == 1 and word.isupper()) or _plain(word) in ABBREVIATIONS or "." in word


def _is_name_word(word: str) -> bool:
    # Capitalised ("Lambert"), inner capitals ("iPhone", "ChatGPT") or an acronym ("NASA").
    return word[:1].isupper() or (word[:1].islower() and any(c.isupper() for c in word[1:]))


def _is_title_case(title: str) -> bool:
    words = [w for w in title.split() if w[:1].isalpha() and len(w) > 3]
    return bool(words) and sum(w[0].isupper() for w in words) / len(words) > 0.6


def _fold_parts(mentions: dict[str, list[int]], in_titles: dict[str, int]) -> dict[str, list[int]]:
    """Credit "Lambert" and "Nathan" to "Nathan Lambert" when the full name is there too.

    A first word that mostly stands alone ("Nimbusforge" beside one "Nimbusforge Kellbridge-1")
    is a name of its own, and a shorter run inside a longer one ("Competition Authority" in
    "Arden Competition Authority") is the longer name.
    """
    counts = {name: list(docs) for name, docs in mentions.items()}
    multiword = sorted((n for n in counts if " " in n), key=lambda n: (-len(counts[n]), n))
    for name in sorted(counts, key=len):
        owner = next((full for full in multiword if _folds_into(name, full, counts)), None)
        if owner:
            counts[owner] += counts.pop(name)
            in_titles[owner] = in_titles.get(owner, 0) + in_titles.pop(name, 0)
    return counts


def _folds_into(name: str, full: str, counts: dict[str, list[int]]) -> bool:
    if name == full or full not in counts or f" {name} " not in f" {full} ":
        return False
    before = full[: -len(name)].split()
    if full.endswith(f" {name}") and before[-1] not in CONNECTORS:  # not "Bank of Arden"
        return True  # a surname, or "Competition Authority" in "Arden Competition Authority"
    return 2 * len(set(counts[full])) >= len(set(counts.get(name, [])))
