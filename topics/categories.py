"""A topic's category, from the editable list of categories (TopicCategory) and their keywords.

The words of the articles decide, headlines counting more than bodies; the sources' own
default categories only add a nudge, because a climate desk also writes about rail strikes.
When nothing matches, the category most of the sources file under is used.
"""

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable

from topics.models import TopicCategory

# Editors can change all of these in the admin; this is only the first list a new site gets
# (seeded by a data migration).
DEFAULT_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("business", "Business",
     "market, markets, stock, stocks, shares, earnings, revenue, profit, investor, investors, "
     "bank, banks, central bank, economy, inflation, interest rate, interest rates, rate cut, "
     "merger, acquisition, acquire, acquires, takeover, to buy, buys, deal, ipo, "
     "chief executive, startup, funding, tariff, tariffs, "
     "trade, valuation, sales, exports, imports, gdp, manufacturing, factory, retail, retailer, "
     "jobs, unemployment, consumer, consumers, prices, budget, debt, bond, bonds, strike, "
     "union, pay, wages, workers, shipping, grain, traders, exporters"),
    ("technology", "Technology",
     "ai, artificial intelligence, software, chip, chips, semiconductor, app, apps, app store, "
     "cloud, data center, algorithm, cyber, hack, hackers, robot, robots, robotics, "
     "smartphone, internet, llm, benchmark, gpu, outage, open-source, database, laptop, "
     "developers, transcription"),
    ("policy", "Policy",
     "senate, congress, parliament, law, bill, regulation, regulator, court, election, vote, "
     "minister, government, policy, president, lawmakers, legislation, ban, campaign, "
     "governor, council, competition authority, fined, fine, ruling, act, housing, planning"),
    ("science", "Science",
     "study, scientists, researchers, research, physics, space, telescope, rocket, launch, "
     "satellite, satellites, species, genome, experiment, journal, astronomers, quantum, "
     "orbit, mission, survey, expedition, deep-sea"),
    ("world", "World",
     "war, military, troops, ceasefire, refugees, embassy, united nations, border, protest, "
     "protests, attack, invasion, sanctions, diplomat, diplomats, summit"),
    ("health", "Health",
     "health, hospital, hospitals, vaccine, virus, disease, patients, cancer, drug, drugs, "
     "outbreak, medical, doctors, pandemic, recall, trial, malaria, insulin, medicines"),
    ("climate", "Climate",
     "climate, emissions, carbon, warming, renewable, solar, wind power, drought, flood, "
     "floods, wildfire, wildfires, heatwave, heat warning, heat, glacier, fossil fuel, "
     "net zero, zero-emission, weather, met service, river level, low water"),
    ("culture", "Culture",
     "film, movie, music, album, book, novel, museum, art, festival, television, actor, "
     "actress, celebrity, theatre, theater, prize, author, fiction"),
    ("sports", "Sports",
     "league, championship, tournament, coach, striker, quarterback, football, soccer, "
     "basketball, baseball, cricket, rugby, tennis, golf, olympic, olympics, world cup, "
     "playoffs, cup final, final, goal, header, fans, stadium, trophy"),
)  # fmt: skip

# A headline's keyword counts this many times a body's.
TITLE_WEIGHT = 3
# Points each source's own default category adds to its category.
SOURCE_VOTE = 1


@dataclasses.dataclass(frozen=True)
class CategoryRule:
    slug: str
    pattern: re.Pattern[str] | None


def load_rules() -> list[CategoryRule]:
    """The active categories in the editors' order, each with its compiled keywords."""
    rows = TopicCategory.objects.filter(is_active=True).order_by("position", "slug")
    return [CategoryRule(row.slug, compile_terms(row.keyword_list)) for row in rows]


def compile_terms(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern matching any of `terms` as whole words; None for none."""
    # Longest first, so "interest rates" wins over "interest".
    words = sorted({t.lower() for t in terms if t}, key=lambda t: (-len(t), t))
    if not words:
        return None
    return re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, words)) + r")(?![\w-])", re.I)


def categorize(
    rules: list[CategoryRule], titles: list[str], bodies: list[str], source_categories: list[str]
) -> str:
    """The best category slug for a topic, or "" when neither words nor sources suggest one."""
    known = {rule.slug for rule in rules}
    votes = Counter(c for c in source_categories if c in known)
    scores = keyword_scores(rules, titles, bodies)
    for slug, count in votes.items():
        scores[slug] += SOURCE_VOTE * count
    if not scores or max(scores.values()) == 0:
        return ""
    order = {rule.slug: n for n, rule in enumerate(rules)}
    return max(scores, key=lambda slug: (scores[slug], votes[slug], -order[slug]))


def keyword_scores(rules: list[CategoryRule], titles: list[str], bodies: list[str]) -> Counter[str]:
    """Per category: the distinct keywords each headline (x3) and each body mentions.

    Distinct, so a company called "Brightwave Robotics" named ten times counts once.
    """
    scores: Counter[str] = Counter()
    for rule in rules:
        scores[rule.slug] = 0
        if rule.pattern is not None:
            in_titles = sum(_distinct(rule.pattern, title) for title in titles)
            in_bodies = sum(_distinct(rule.pattern, body) for body in bodies)
            scores[rule.slug] = TITLE_WEIGHT * in_titles + in_bodies
    return scores


def _distinct(pattern: re.Pattern[str], text: str) -> int:
    return len({match.lower() for match in pattern.findall(text)})


def seed_default_categories(model: type[TopicCategory] = TopicCategory) -> int:
    """Create the default categories that are missing; returns how many were created."""
    created = 0
    for position, (slug, name, keywords) in enumerate(DEFAULT_CATEGORIES):
        _, was_created = model.objects.get_or_create(
            slug=slug, defaults={"name": name, "keywords": keywords, "position": position}
        )
        created += was_created
    return created
