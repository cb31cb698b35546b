"""The offline demo newsroom: fictional sources, stories and readers, written for Daybrief.

Everything here is invented (the country of Arden, its companies, people and places). Articles
are dated relative to an anchor, the moment the demo was loaded, so the demo always looks
current while repeated fetches see exactly the same items.

Most stories are told by several sources in their own words (sharing the names and facts a
clustering step can find); a few are single-source, like an opinion column or a company post.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from django.utils.text import slugify

from topics.models import Category, Kind, Relation


@dataclass(frozen=True)
class DemoSource:
    slug: str
    name: str
    relation: str
    default_kind: str
    weight: float
    category: str
    feed_format: Literal["rss", "atom"]
    description: str


@dataclass(frozen=True)
class DemoArticle:
    source: str  # DemoSource.slug
    story: str  # groups articles that tell the same real-world story
    day: int  # 0 is the anchor's day, -1 the day before, -2 the one before that
    hours_before: float  # hours before the anchor's time of day, on that day
    title: str
    summary: str
    author: str = ""

    @property
    def slug(self) -> str:
        return slugify(self.title)[:80].rstrip("-")

    def published_at(self, anchor: dt.datetime) -> dt.datetime:
        return anchor + dt.timedelta(days=self.day, hours=-self.hours_before)


@dataclass(frozen=True)
class DemoSubscriber:
    email: str
    name: str
    categories: tuple[str, ...] = ()
    min_importance: int = 1
    max_topics: int = 10


SOURCES: tuple[DemoSource, ...] = (
    DemoSource(
        slug="northwire",
        name="Northwire",
        relation=Relation.THIRD_PARTY,
        default_kind=Kind.NEWS,
        weight=1.5,
        category=Category.WORLD,
        feed_format="rss",
        description="Fast, plain wire copy from Northwire's newsroom in Kellbridge.",
    ),
    DemoSource(
        slug="harbor-ledger",
        name="The Harbor Ledger",
        relation=Relation.THIRD_PARTY,
        default_kind=Kind.NEWS,
        weight=1.4,
        category=Category.POLICY,
        feed_format="rss",
        description="Arden's national newspaper of record, published in Port Calder since 1887.",
    ),
    DemoSource(
        slug="circuit-notes",
        name="Circuit Notes",
        relation=Relation.THIRD_PARTY,
        default_kind=Kind.ANALYSIS,
        weight=1.0,
        category=Category.TECHNOLOGY,
        feed_format="atom",
        description="A trade blog about chips, clouds and the software that runs on them.",
    ),
    DemoSource(
        slug="lumora-blog",
        name="Lumora Systems Blog",
        relation=Relation.FIRST_PARTY,
        default_kind=Kind.ANNOUNCEMENT,
        weight=0.9,
        category=Category.TECHNOLOGY,
        feed_format="atom",
        description="News and announcements from Lumora Systems.",
    ),
    DemoSource(
        slug="the-margin",
        name="The Margin (Priya Castellanos)",
        relation=Relation.FIRST_PARTY,
        default_kind=Kind.OPINION,
        weight=0.8,
        category=Category.BUSINESS,
        feed_format="atom",
        description="Priya Castellanos on markets, companies and the money behind them.",
    ),
    DemoSource(
        slug="field-and-lab",
        name="Field & Lab",
        relation=Relation.THIRD_PARTY,
        default_kind=Kind.RESEARCH,
        weight=1.2,
        category=Category.SCIENCE,
        feed_format="rss",
        description="Science and research news, explained by people who read the papers.",
    ),
    DemoSource(
        slug="greenline",
        name="Greenline",
        relation=Relation.THIRD_PARTY,
        default_kind=Kind.NEWS,
        weight=1.0,
        category=Category.CLIMATE,
        feed_format="rss",
        description="Climate, water and energy reporting from across Arden.",
    ),
    DemoSource(
        slug="kestrel-newsroom",
        name="Kestrel Aerospace Newsroom",
        relation=Relation.FIRST_PARTY,
        default_kind=Kind.ANNOUNCEMENT,
        weight=0.9,
        category=Category.SCIENCE,
        feed_format="atom",
        description="Official announcements from Kestrel Aerospace.",
    ),
)

SUBSCRIBERS: tuple[DemoSubscriber, ...] = (
    DemoSubscriber(email="ada.reader@example.com", name="Ada Reader"),
    DemoSubscriber(
        email="ben.markets@example.com",
        name="Ben Okonkwo",
        categories=(Category.BUSINESS, Category.TECHNOLOGY),
    ),
    DemoSubscriber(
        email="chloe.lab@example.com",
        name="Chloé Varga",
        categories=(Category.SCIENCE, Category.HEALTH, Category.CLIMATE),
    ),
    DemoSubscriber(
        email="dan.headlines@example.com", name="Dan Whitfield", min_importance=3, max_topics=5
    ),
)

_LUMORA_BRIGHTWAVE = (
    DemoArticle(
        source="northwire",
        story="lumora-brightwave",
        day=0,
        hours_before=9,
        author="Tomas Reyne",
        title="Lumora Systems to buy Brightwave Robotics for 4.2 billion crowns",
        summary=(
            "Lumora Systems has agreed to buy Brightwave Robotics, the Dunmore maker of "
            "Tallyarm warehouse robots, for 4.2 billion crowns in cash. Lumora will pay 38 "
            "crowns a share, a 41% premium. Chief executive Nadia Ferrante said the takeover "
            "needs approval from the Arden Competition Authority."
        ),
    ),
    DemoArticle(
        source="lumora-blog",
        story="lumora-brightwave",
        day=0,
        hours_before=8.5,
        author="Nadia Ferrante",
        title="Lumora Systems will acquire Brightwave Robotics, maker of Tallyarm robots",
        summary=(
            "Today Lumora Systems agreed to acquire Brightwave Robotics for 4.2 billion "
            "crowns. Brightwave's Tallyarm warehouse robots already work in 300 warehouses, and "
            "Lumora's Helix chips will make them faster, writes chief executive Nadia Ferrante. "
            "Brightwave founder Oskar Bell and his team will stay in Dunmore."
        ),
    ),
    DemoArticle(
        source="harbor-ledger",
        story="lumora-brightwave",
        day=0,
        hours_before=7,
        author="Greta Salonen",
        title="Lumora's 4.2 billion crown Brightwave takeover puts Dunmore jobs in the spotlight",
        summary=(
            "Brightwave Robotics employs 2,100 people in Dunmore building Tallyarm warehouse "
            "robots, and unions want Lumora Systems to promise the jobs stay. Lumora chief "
            "executive Nadia Ferrante said the 4.2 billion crown takeover of Brightwave was "
            "about growth, not cuts."
        ),
    ),
    DemoArticle(
        source="circuit-notes",
        story="lumora-brightwave",
        day=0,
        hours_before=6,
        author="Sora Whitlock",
        title="Why Lumora Systems wants Brightwave Robotics and its Tallyarm robots",
        summary=(
            "Lumora Systems sells the Helix chips that robots think with; Brightwave Robotics "
            "builds the Tallyarm warehouse robots. Owning both lets Lumora sell a whole picking "
            "system. The 4.2 billion crown takeover price looks steep for a company with 610 "
            "million crowns of revenue."
        ),
    ),
    DemoArticle(
        source="northwire",
        story="lumora-brightwave",
        day=0,
        hours_before=4,
        author="Tomas Reyne",
        title="Brightwave Robotics shares jump 37% on Lumora Systems takeover",
        summary=(
            "Shares in Brightwave Robotics jumped 37% to 37.10 crowns, just below the 38 "
            "crowns a share Lumora Systems offered in its 4.2 billion crown takeover. Lumora "
            "shares slipped 3%. Analysts pointed to doubts about approval from the Arden "
            "Competition Authority."
        ),
    ),
    DemoArticle(
        source="the-margin",
        story="lumora-brightwave",
        day=0,
        hours_before=2,
        author="Priya Castellanos",
        title="Lumora is buying Brightwave Robotics. It is really buying a sales team",
        summary=(
            "Everyone is talking about the Tallyarm warehouse robots, but the prize in Lumora "
            "Systems' 4.2 billion crown takeover of Brightwave Robotics is the 300 warehouse "
            "customers that come with them. Chips are sold to engineers; robots are sold to "
            "operations managers. Nadia Ferrante is paying a 41% premium to learn that."
        ),
    ),
    DemoArticle(
        source="harbor-ledger",
        story="lumora-brightwave",
        day=0,
        hours_before=1,
        author="Marcus Oduya",
        title="Competition Authority to examine Lumora's Brightwave Robotics takeover",
        summary=(
            "The Arden Competition Authority will examine whether Lumora Systems could shut "
            "rival robot makers out of its Helix chips after its 4.2 billion crown takeover of "
            "Brightwave Robotics. A decision is due within 40 working days. Lumora said it "
            "will keep selling Helix chips to every maker of warehouse robots."
        ),
    ),
)

_KESTREL_TERN = (
    DemoArticle(
        source="kestrel-newsroom",
        story="kestrel-tern",
        day=-1,
        hours_before=10,
        author="Kestrel Aerospace",
        title="Osprey-2 rocket launches the first six Tern satellites from Varro Island",
        summary=(
            "Our Osprey-2 rocket lifted off from the Varro Island spaceport at 06:42 and placed "
            "six Tern earth-observation satellites in orbit. The Tern satellites will map soil "
            "moisture and spot wildfires across Arden every three hours. Mission lead Dr. Amara "
            "Quist called it the start of a 24-satellite Tern constellation."
        ),
    ),
    DemoArticle(
        source="northwire",
        story="kestrel-tern",
        day=-1,
        hours_before=9,
        author="Adaeze Holm",
        title="Kestrel Aerospace puts six Tern satellites into orbit from Varro Island",
        summary=(
            "Kestrel Aerospace launched six Tern satellites on its Osprey-2 rocket from the "
            "Varro Island spaceport. The Tern satellites will monitor soil moisture and "
            "wildfires. Kestrel plans a constellation of 24 Tern satellites by next year."
        ),
    ),
    DemoArticle(
        source="field-and-lab",
        story="kestrel-tern",
        day=-1,
        hours_before=5,
        author="Hana Ivers",
        title="What Kestrel's Tern satellites will measure, and why farmers care",
        summary=(
            "Each Tern satellite launched by Kestrel Aerospace on Osprey-2 carries a microwave "
            "radiometer that reads soil moisture. Dr. Amara Quist says passes every three hours "
            "will show drought stress days before it reaches the leaves. Scientists want the "
            "Tern calibration data published."
        ),
    ),
    DemoArticle(
        source="harbor-ledger",
        story="kestrel-tern",
        day=-1,
        hours_before=3,
        author="Lena Farrow",
        title="Kestrel's six Tern satellites reach orbit on an Osprey-2 rocket",
        summary=(
            "Six Tern satellites built by Kestrel Aerospace are in orbit after an Osprey-2 "
            "launch from Varro Island, Arden's first home-grown satellite constellation. The "
            "government paid 90 million crowns toward Tern in exchange for wildfire data."
        ),
    ),
    DemoArticle(
        source="greenline",
        story="kestrel-tern",
        day=0,
        hours_before=14,
        author="Ruth Adebayo",
        title="Kestrel's Tern satellites promise earlier wildfire warnings",
        summary=(
            "Fire services will get Tern satellite wildfire alerts within 20 minutes of a "
            "hotspot appearing, Kestrel Aerospace says. The first six Tern satellites went up "
            "on an Osprey-2 rocket from Varro Island this week, and will also track soil moisture."
        ),
    ),
)

_BANK_OF_ARDEN = (
    DemoArticle(
        source="northwire",
        story="bank-of-arden-rates",
        day=-1,
        hours_before=6,
        author="Adaeze Holm",
        title="Bank of Arden holds interest rates at 3.75% as services inflation lingers",
        summary=(
            "The Bank of Arden kept its benchmark interest rate at 3.75% for a third meeting. "
            "Governor Miriam Okafor said services inflation of 4.1% was still too high for a "
            "rate cut. Two of the nine members of the monetary committee voted to cut."
        ),
    ),
    DemoArticle(
        source="harbor-ledger",
        story="bank-of-arden-rates",
        day=-1,
        hours_before=4,
        author="Marcus Oduya",
        title="Okafor keeps Bank of Arden rates on hold, but two policymakers vote to cut",
        summary=(
            "Miriam Okafor's Bank of Arden left interest rates at 3.75%, but the 7-2 vote shows "
            "a committee starting to split over a rate cut. Governor Okafor said services "
            "inflation must fall from 4.1% first."
        ),
    ),
    DemoArticle(
        source="northwire",
        story="bank-of-arden-rates",
        day=0,
        hours_before=17,
        author="Adaeze Holm",
        title="Bank of Arden governor Okafor says a rate cut is 'not yet in view'",
        summary=(
            "Bank of Arden governor Miriam Okafor told lawmakers a rate cut from 3.75% was "
            "'not yet in view' while services inflation runs at 4.1%. She said the two "
            "committee members who voted to cut interest rates made 'a reasonable case'."
        ),
    ),
    DemoArticle(
        source="the-margin",
        story="bank-of-arden-rates",
        day=0,
        hours_before=16,
        author="Priya Castellanos",
        title="The Bank of Arden is waiting for an inflation number that will not come",
        summary=(
            "Miriam Okafor wants services inflation below 4.1% before the Bank of Arden cuts "
            "interest rates, but services prices are mostly wages, set once a year. Holding "
            "rates at 3.75% until the spring is a choice, not caution. The two committee "
            "members who voted to cut understand that."
        ),
    ),
)

_SABLE_RIVER = (
    DemoArticle(
        source="greenline",
        story="sable-river-drought",
        day=-2,
        hours_before=8,
        author="Ruth Adebayo",
        title="Sable River hits record low at Ashby, halting barges",
        summary=(
            "The Sable River fell to a record low of 0.9 metres at the Ashby gauge, the lowest "
            "since 1911. The Arden Waterways Agency has stopped loaded barges on the Sable "
            "River between Ashby and Port Calder. A dry winter left the river short of snowmelt."
        ),
    ),
    DemoArticle(
        source="northwire",
        story="sable-river-drought",
        day=-2,
        hours_before=5,
        author="Tomas Reyne",
        title="Sable River barges halted as water at Ashby falls to a record 0.9 metres",
        summary=(
            "The Arden Waterways Agency halted loaded barges on the Sable River after the "
            "level at Ashby fell to a record low of 0.9 metres. About 140 barges a week carry "
            "grain between Ashby and Port Calder."
        ),
    ),
    DemoArticle(
        source="harbor-ledger",
        story="sable-river-drought",
        day=-1,
        hours_before=12,
        author="Greta Salonen",
        title="Record low Sable River squeezes grain barges to Port Calder",
        summary=(
            "Grain traders are moving cargo from Sable River barges to trucks and trains at up "
            "to three times the cost. Exporters at Port Calder warn that ships may sail "
            "half-empty while the river at Ashby stays near its record low of 0.9 metres."
        ),
    ),
    DemoArticle(
        source="field-and-lab",
        story="sable-river-drought",
        day=-1,
        hours_before=2,
        author="Dr. Colm Reddy",
        title="Why the Sable River hit a record low at Ashby",
        summary=(
            "The Sable River's record low of 0.9 metres at Ashby has a simple cause: the snowpack"
            " feeding the river was 38% of normal this winter. Irrigation upstream of Ashby has "
            "doubled since 2000. Hydrologists expect more record lows that halt barges between "
            "Ashby and Port Calder."
        ),
    ),
    DemoArticle(
        source="greenline",
        story="sable-river-drought",
        day=0,
        hours_before=12,
        author="Ruth Adebayo",
        title="Waterways Agency to dredge the Sable River as barges stay halted",
        summary=(
            "The Arden Waterways Agency will dredge three shallow stretches of the Sable River "
            "below Ashby so lighter barges can move again. The river is still near its record "
            "low of 0.9 metres. Dredging will cost 12 million crowns."
        ),
    ),
    DemoArticle(
        source="northwire",
        story="sable-river-drought",
        day=0,
        hours_before=3,
        author="Tomas Reyne",
        title="Port Calder grain exporters count the cost of halted Sable River barges",
        summary=(
            "Grain exporters at Port Calder say the halt to Sable River barges has cost them "
            "about 30 million crowns. Ships wait offshore for grain that would come by barge "
            "from Ashby, where the river sits near a record low."
        ),
    ),
)

_MALARIA_VACCINE = (
    DemoArticle(
        source="field-and-lab",
        story="mrv-112-malaria",
        day=-2,
        hours_before=10,
        author="Hana Ivers",
        title="Malaria vaccine MRV-112 shows 78% efficacy in phase 3 trial",
        summary=(
            "The MRV-112 malaria vaccine, developed by the Tessaly Institute with Merrow "
            "Therapeutics, prevented 78% of clinical malaria cases over 12 months in a phase 3 "
            "trial of 4,200 children. Results were published in the Kellbridge Medical Review. "
            "Lead investigator Dr. Yusuf Abara said a booster keeps protection high."
        ),
    ),
    DemoArticle(
        source="northwire",
        story="mrv-112-malaria",
        day=-2,
        hours_before=6,
        author="Adaeze Holm",
        title="Merrow Therapeutics' malaria shot cuts cases by 78% in large trial",
        summary=(
            "Merrow Therapeutics said its MRV-112 malaria vaccine cut cases by 78% in a "
            "4,200-child trial run with the Tessaly Institute. Merrow plans to seek approval "
            "this year and says it can make 40 million doses a year."
        ),
    ),
    DemoArticle(
        source="harbor-ledger",
        story="mrv-112-malaria",
        day=-1,
        hours_before=14,
        author="Lena Farrow",
        title="Tessaly Institute trial raises hopes for a cheaper malaria vaccine",
        summary=(
            "Scientists at the Tessaly Institute say MRV-112 could cost under three crowns a "
            "dose, far less than current malaria vaccines. Dr. Yusuf Abara's phase 3 trial "
            "found 78% efficacy. Merrow Therapeutics will manufacture the vaccine."
        ),
    ),
)

_ORBITLY_FINE = (
    DemoArticle(
        source="northwire",
        story="orbitly-fine",
        day=-1,
        hours_before=8,
        author="Tomas Reyne",
        title="Orbitly fined 310 million crowns over app store payment rules",
        summary=(
            "The Arden Competition Authority fined Orbitly 310 million crowns for stopping "
            "app developers from offering cheaper payment options outside its app store. "
            "Orbitly must allow outside payment links within 90 days. Chief executive Jonah "
            "Pike said Orbitly will appeal."
        ),
    ),
    DemoArticle(
        source="harbor-ledger",
        story="orbitly-fine",
        day=-1,
        hours_before=7,
        author="Marcus Oduya",
        title="Competition Authority orders Orbitly to open its app store to outside payments",
        summary=(
            "Orbitly has 90 days to let app developers link to outside payment pages, the Arden "
            "Competition Authority ruled, along with a 310 million crown fine. Developers say the"
            " 30% commission in Orbitly's app store keeps prices high. Chief executive Jonah Pike"
            " called the ruling 'a risk to users' security'."
        ),
    ),
    DemoArticle(
        source="circuit-notes",
        story="orbitly-fine",
        day=-1,
        hours_before=1,
        author="Devin Aulak",
        title="What the Orbitly ruling means for developers: outside payment links in 90 days",
        summary=(
            "The Competition Authority's ruling lets developers on Orbitly show a link to "
            "their own checkout and skip the 30% commission. Orbitly can still review those "
            "links. Expect Orbitly to propose a smaller fee on outside payments, as other "
            "app stores did."
        ),
    ),
    DemoArticle(
        source="the-margin",
        story="orbitly-fine",
        day=0,
        hours_before=18,
        author="Priya Castellanos",
        title="Orbitly's 310 million crown fine is a rounding error; the 90-day deadline is not",
        summary=(
            "Orbitly earns 310 million crowns in about eleven days, so the Arden Competition "
            "Authority's fine will not hurt. What hurts is the order to allow outside payment "
            "links in its app store within 90 days, which threatens the 30% commission. Jonah "
            "Pike's appeal is about the deadline, not the fine."
        ),
    ),
)

_MARINERS_CUP = (
    DemoArticle(
        source="northwire",
        story="mariners-cup",
        day=-2,
        hours_before=2,
        author="Northwire Sport",
        title="Mariners beat Rovers 2-1 to win the Continental Cup",
        summary=(
            "Port Calder Mariners beat Kellbridge Rovers 2-1 in the Continental Cup final at "
            "Halden Stadium. Elia Moreau headed the winner in the 88th minute. It is the "
            "Mariners' first major title in 23 years."
        ),
    ),
    DemoArticle(
        source="harbor-ledger",
        story="mariners-cup",
        day=-1,
        hours_before=16,
        author="Jonas Petrak",
        title="Moreau's late header ends Port Calder's 23-year wait",
        summary=(
            "Elia Moreau's 88th-minute header at Halden Stadium gave Port Calder Mariners "
            "the Continental Cup and ended 23 years without a trophy. Kellbridge Rovers had "
            "led through a first-half penalty. Mariners coach Sanne Vidal called it "
            "'the night this city has waited for'."
        ),
    ),
    DemoArticle(
        source="northwire",
        story="mariners-cup",
        day=-1,
        hours_before=11,
        author="Northwire Sport",
        title="Thousands line Port Calder harbour as Mariners parade the Continental Cup",
        summary=(
            "An estimated 60,000 fans lined the harbour as Port Calder Mariners paraded the "
            "Continental Cup, won 2-1 against Kellbridge Rovers. Elia Moreau, who headed the late"
            " winner, lifted the cup from an open-top bus."
        ),
    ),
)

_GREYWATER_PRIZE = (
    DemoArticle(
        source="harbor-ledger",
        story="greywater-prize",
        day=0,
        hours_before=15,
        author="Lena Farrow",
        title="Ines Haldane wins the Greywater Prize for 'The Salt Orchard'",
        summary=(
            "Ines Haldane has won the Greywater Prize for fiction for 'The Salt Orchard', a "
            "novel about three generations of apple growers on Varro Island. Judges' chair "
            "Felix Amsel called it 'a book about patience, written with none wasted'."
        ),
    ),
    DemoArticle(
        source="northwire",
        story="greywater-prize",
        day=0,
        hours_before=13,
        author="Adaeze Holm",
        title="'The Salt Orchard' author Haldane takes 50,000-crown Greywater Prize",
        summary=(
            "Novelist Ines Haldane won the 50,000-crown Greywater Prize for 'The Salt "
            "Orchard', her third novel. The book, set on Varro Island, beat five other "
            "shortlisted titles. Sales rose sixfold after the shortlist was announced."
        ),
    ),
)

_SINGLE_SOURCE = (
    DemoArticle(
        source="the-margin",
        story="free-shipping",
        day=-2,
        hours_before=4,
        author="Priya Castellanos",
        title="The quiet cost of free shipping",
        summary=(
            "Parcelo raised its free-shipping threshold to 40 crowns this week and nobody "
            "noticed, which is the point. Free delivery was never free: it is paid for by "
            "bigger baskets and thinner margins for the sellers on Parcelo's marketplace. "
            "Expect every online retailer in Arden to follow within a year."
        ),
    ),
    DemoArticle(
        source="lumora-blog",
        story="lumora-studio",
        day=-1,
        hours_before=13,
        author="The Lumora team",
        title="Introducing Lumora Studio 2.0 with on-device transcription",
        summary=(
            "Lumora Studio 2.0 transcribes meetings in 14 languages without sending audio "
            "to the cloud. It runs on the Helix chip inside every Lumora Lens laptop. The "
            "update is free for existing Lumora Studio users from today."
        ),
    ),
    DemoArticle(
        source="field-and-lab",
        story="varro-octopus",
        day=0,
        hours_before=11,
        author="Dr. Colm Reddy",
        title="Deep-sea survey finds a vast octopus nursery on the Varro Ridge",
        summary=(
            "The research vessel Meridian Star has found about 6,000 brooding octopuses "
            "clustered 2,800 metres down on the Varro Ridge, drawn by warm water seeping "
            "from the seafloor. Expedition leader Dr. Helga Sorensen says the site should "
            "be protected from deep-sea mining before its first licence is granted."
        ),
    ),
    DemoArticle(
        source="kestrel-newsroom",
        story="kestrel-harlow-site",
        day=-2,
        hours_before=9,
        author="Kestrel Aerospace",
        title="Kestrel opens the Harlow engine test site near Dunmore",
        summary=(
            "Kestrel Aerospace has opened its Harlow test site near Dunmore, where it will "
            "fire the Gannet engines for the future Osprey-3 rocket. The site brings 140 "
            "jobs. The first full-duration Gannet test is planned for the autumn."
        ),
    ),
)

_CLEAN_FREIGHT = (
    DemoArticle(
        source="harbor-ledger",
        story="clean-freight-act",
        day=-2,
        hours_before=7,
        author="Marcus Oduya",
        title="Parliament passes Clean Freight Act, phasing out diesel trucks by 2040",
        summary=(
            "Arden's parliament passed the Clean Freight Act by 212 votes to 163. New trucks "
            "over 12 tonnes must be zero-emission from 2040, and a 1.8 billion crown fund will "
            "pay for charging depots. Transport minister Daniel Achterberg called 2040 'a "
            "deadline industry can plan around'."
        ),
    ),
    DemoArticle(
        source="northwire",
        story="clean-freight-act",
        day=-2,
        hours_before=7.5,
        author="Tomas Reyne",
        title="Arden parliament approves Clean Freight Act zero-emission truck rule, 212-163",
        summary=(
            "Arden's parliament approved the Clean Freight Act, which requires new trucks over "
            "12 tonnes to be zero-emission from 2040. Transport minister Daniel Achterberg "
            "promised a 1.8 billion crown fund for charging depots. Hauliers said the fund is "
            "too small."
        ),
    ),
    DemoArticle(
        source="greenline",
        story="clean-freight-act",
        day=-2,
        hours_before=3,
        author="Ruth Adebayo",
        title="Clean Freight Act: what the 2040 zero-emission truck rule means",
        summary=(
            "Trucks carry 70% of Arden's freight. The Clean Freight Act bans new diesel trucks "
            "over 12 tonnes from 2040 and sets aside 1.8 billion crowns for charging depots "
            "along freight corridors. Daniel Achterberg wants 200 depots open by 2030."
        ),
    ),
    DemoArticle(
        source="the-margin",
        story="clean-freight-act",
        day=-1,
        hours_before=18,
        author="Priya Castellanos",
        title="The Clean Freight Act gets the 2040 deadline right and the money wrong",
        summary=(
            "The Clean Freight Act's 2040 deadline gives hauliers two truck lifetimes to go "
            "zero-emission, which is fair. But 1.8 billion crowns will not build charging "
            "depots for 90,000 heavy trucks, and Daniel Achterberg knows it."
        ),
    ),
    DemoArticle(
        source="circuit-notes",
        story="clean-freight-act",
        day=-1,
        hours_before=9,
        author="Sora Whitlock",
        title="Battery truck makers eye the Clean Freight Act's 1.8 billion crown fund",
        summary=(
            "Voltra Trucks says the Clean Freight Act's 2040 zero-emission deadline makes Arden "
            "worth building battery trucks for. Voltra wants the 1.8 billion crown charging "
            "fund to pay for megawatt chargers that refill a 40-tonne truck in 45 minutes."
        ),
    ),
)

_NIMBUSFORGE_OUTAGE = (
    DemoArticle(
        source="northwire",
        story="nimbusforge-outage",
        day=0,
        hours_before=19,
        author="Tomas Reyne",
        title="Nimbusforge cloud outage disrupts card payments across Arden",
        summary=(
            "An outage at cloud provider Nimbusforge knocked out card payments at shops across "
            "Arden. Retailer Parcelo and the Kellbridge transit app were among the services "
            "hit. Nimbusforge said its Kellbridge-1 region was recovering."
        ),
    ),
    DemoArticle(
        source="circuit-notes",
        story="nimbusforge-outage",
        day=0,
        hours_before=17,
        author="Devin Aulak",
        title="Nimbusforge Kellbridge-1 outage lasted six hours: what we know",
        summary=(
            "The Nimbusforge outage took its Kellbridge-1 cloud region down for six hours. "
            "Card payments, Parcelo's checkout and the Kellbridge transit app all run in "
            "Kellbridge-1 without a second region. Nimbusforge has promised a postmortem."
        ),
    ),
    DemoArticle(
        source="harbor-ledger",
        story="nimbusforge-outage",
        day=0,
        hours_before=10,
        author="Greta Salonen",
        title="Shoppers stranded as Nimbusforge cloud outage stops card payments at Parcelo",
        summary=(
            "Queues formed at Parcelo and supermarket tills as card payments failed during the "
            "six-hour Nimbusforge cloud outage. The finance ministry asked Nimbusforge why one "
            "region, Kellbridge-1, could stop so many payments."
        ),
    ),
    DemoArticle(
        source="northwire",
        story="nimbusforge-outage",
        day=0,
        hours_before=5,
        author="Tomas Reyne",
        title="Nimbusforge apologises for six-hour Kellbridge-1 cloud outage",
        summary=(
            "Nimbusforge chief technology officer Rafaela Dunn apologised for the six-hour cloud "
            "outage in its Kellbridge-1 region that stopped card payments at Parcelo and shops "
            "across Arden. Customers will get service credits."
        ),
    ),
    DemoArticle(
        source="circuit-notes",
        story="nimbusforge-outage",
        day=0,
        hours_before=3,
        author="Devin Aulak",
        title="Nimbusforge postmortem: a configuration push caused the Kellbridge-1 cloud outage",
        summary=(
            "Nimbusforge says a configuration change pushed to every load balancer in its "
            "Kellbridge-1 region at once caused the six-hour cloud outage that stopped card "
            "payments. Rafaela Dunn says changes will now roll out one zone at a time. The lesson"
            " for Parcelo: run payments in two regions."
        ),
    ),
)

_INSULIN_RECALL = (
    DemoArticle(
        source="northwire",
        story="glidedose-recall",
        day=-1,
        hours_before=5,
        author="Adaeze Holm",
        title="Hollis Pharma recalls 180,000 GlideDose insulin pens",
        summary=(
            "Hollis Pharma is recalling 180,000 GlideDose insulin pens made at its Lowen plant "
            "after finding a dosing dial defect that could deliver a double dose. No injuries "
            "have been reported, the Arden Medicines Agency said."
        ),
    ),
    DemoArticle(
        source="harbor-ledger",
        story="glidedose-recall",
        day=-1,
        hours_before=2,
        author="Lena Farrow",
        title="GlideDose insulin pen recall: what users should do",
        summary=(
            "People using GlideDose insulin pens should check the batch number against the "
            "recall list from Hollis Pharma and swap affected pens at a pharmacy. The Arden "
            "Medicines Agency says patients must not stop taking insulin. About 180,000 "
            "GlideDose pens are recalled."
        ),
    ),
    DemoArticle(
        source="field-and-lab",
        story="glidedose-recall",
        day=0,
        hours_before=20,
        author="Hana Ivers",
        title="How a dosing dial defect slipped past GlideDose insulin pen checks",
        summary=(
            "The defect behind the recall of 180,000 GlideDose insulin pens lies in a plastic "
            "dosing dial that can skip a click when cold, Hollis Pharma told the Arden "
            "Medicines Agency. Tests at the Lowen plant ran at room temperature."
        ),
    ),
)

_TIDEPOOL = (
    DemoArticle(
        source="circuit-notes",
        story="tidepool-1-0",
        day=-2,
        hours_before=6,
        author="Sora Whitlock",
        title="Tidepool 1.0: the open-source time-series database ships after six years",
        summary=(
            "Tidepool, the open-source time-series database, has reached version 1.0 after six "
            "years. Maintainer Lucía Brandt promises stable storage formats from Tidepool 1.0 "
            "on. The project is run by the Estuary Foundation."
        ),
    ),
    DemoArticle(
        source="lumora-blog",
        story="tidepool-1-0",
        day=-2,
        hours_before=1,
        author="The Lumora team",
        title="Congratulations to Tidepool 1.0, the time-series database we run on",
        summary=(
            "Congratulations to Lucía Brandt and the Tidepool maintainers on Tidepool 1.0. "
            "We store 40 billion chip telemetry readings a day in the open-source time-series "
            "database, and we are doubling our sponsorship of the Estuary Foundation."
        ),
    ),
)

_RAIL_STRIKE = (
    DemoArticle(
        source="northwire",
        story="arden-rail-strike",
        day=0,
        hours_before=8,
        author="Adaeze Holm",
        title="Arden Rail Union to strike for 48 hours from Thursday",
        summary=(
            "Members of the Arden Rail Union will strike for 48 hours from Thursday after pay "
            "talks with ArdenRail broke down. Union leader Colm Brannigan said the 3% pay "
            "offer was 'a pay cut in disguise'."
        ),
    ),
    DemoArticle(
        source="harbor-ledger",
        story="arden-rail-strike",
        day=0,
        hours_before=6,
        author="Greta Salonen",
        title="ArdenRail to cancel 70% of trains during 48-hour rail strike",
        summary=(
            "ArdenRail will run about 30% of its trains during the 48-hour strike called by "
            "the Arden Rail Union from Thursday. Colm Brannigan's union wants a 6% pay rise; "
            "ArdenRail offered 3%. Commuters into Kellbridge should work from home."
        ),
    ),
    DemoArticle(
        source="greenline",
        story="arden-rail-strike",
        day=0,
        hours_before=5,
        author="Ruth Adebayo",
        title="48-hour rail strike expected to push Kellbridge commuters into cars",
        summary=(
            "Traffic planners expect 40% more cars on roads into Kellbridge during the 48-hour "
            "strike by the Arden Rail Union from Thursday, when ArdenRail will cancel most "
            "trains. The city is trying to cut traffic emissions by a quarter."
        ),
    ),
)

_HEATWAVE = (
    DemoArticle(
        source="greenline",
        story="southern-heatwave",
        day=0,
        hours_before=9,
        author="Ruth Adebayo",
        title="Amber heat warning for southern Arden as Ashby braces for 38°C",
        summary=(
            "The Arden Met Service has issued an amber heat warning for southern Arden, with "
            "38°C forecast in Ashby on Friday. It is the earliest amber heat warning on record. "
            "Water companies have asked customers to save water."
        ),
    ),
    DemoArticle(
        source="northwire",
        story="southern-heatwave",
        day=0,
        hours_before=7,
        author="Tomas Reyne",
        title="Met Service issues amber heat warning, 38°C forecast for Ashby",
        summary=(
            "The Arden Met Service issued an amber heat warning for temperatures up to 38°C in "
            "Ashby and southern Arden from Friday. Hospitals have been told to prepare for more "
            "heat-related admissions."
        ),
    ),
    DemoArticle(
        source="field-and-lab",
        story="southern-heatwave",
        day=0,
        hours_before=4,
        author="Dr. Colm Reddy",
        title="Why southern Arden's heat warning came so early in the season",
        summary=(
            "A blocked high-pressure system is holding hot air over southern Arden, and dry "
            "soils make it worse, Met Service scientists say. The amber heat warning for 38°C "
            "in Ashby on Friday is the earliest on record."
        ),
    ),
    DemoArticle(
        source="harbor-ledger",
        story="southern-heatwave",
        day=0,
        hours_before=2.5,
        author="Lena Farrow",
        title="Ashby schools to close early under amber heat warning",
        summary=(
            "Schools in Ashby will close at noon on Friday under the Met Service's amber heat "
            "warning for southern Arden, with 38°C expected. Council leader Ivo Marsh said "
            "older classrooms become unsafe in the heat."
        ),
    ),
)

_RIVERSIDE_QUARTER = (
    DemoArticle(
        source="harbor-ledger",
        story="riverside-quarter",
        day=-2,
        hours_before=11,
        author="Greta Salonen",
        title="Kellbridge approves 9,000-home Riverside Quarter plan",
        summary=(
            "Kellbridge city council approved the Riverside Quarter, 9,000 homes on the old "
            "Halvard rail yards, by 41 votes to 18. A third of the homes will be "
            "affordable. Building starts next year."
        ),
    ),
    DemoArticle(
        source="northwire",
        story="riverside-quarter",
        day=-2,
        hours_before=10,
        author="Adaeze Holm",
        title="Kellbridge council backs Riverside Quarter housing on Halvard rail yards",
        summary=(
            "Councillors in Kellbridge voted 41-18 for the Riverside Quarter development of "
            "9,000 homes. Opponents said the Halvard rail yards flood too often to build on."
        ),
    ),
    DemoArticle(
        source="greenline",
        story="riverside-quarter",
        day=-2,
        hours_before=1,
        author="Ruth Adebayo",
        title="Riverside Quarter's flood defences face scrutiny after approval",
        summary=(
            "The approved Riverside Quarter will sit on the Halvard rail yards, which flooded "
            "twice in the last decade. Developers promise a raised embankment for the 9,000 "
            "homes; engineers want it designed for higher river levels than today's."
        ),
    ),
)

ARTICLES: tuple[DemoArticle, ...] = (
    *_LUMORA_BRIGHTWAVE,
    *_KESTREL_TERN,
    *_BANK_OF_ARDEN,
    *_SABLE_RIVER,
    *_MALARIA_VACCINE,
    *_ORBITLY_FINE,
    *_MARINERS_CUP,
    *_GREYWATER_PRIZE,
    *_SINGLE_SOURCE,
    *_CLEAN_FREIGHT,
    *_NIMBUSFORGE_OUTAGE,
    *_INSULIN_RECALL,
    *_TIDEPOOL,
    *_RAIL_STRIKE,
    *_HEATWAVE,
    *_RIVERSIDE_QUARTER,
)


def get_source(slug: str) -> DemoSource | None:
    return next((source for source in SOURCES if source.slug == slug), None)


def articles_of(slug: str) -> list[DemoArticle]:
    """A source's articles, newest first (the order feeds list them)."""
    mine = [article for article in ARTICLES if article.source == slug]
    return sorted(mine, key=lambda article: (article.day, -article.hours_before), reverse=True)


def get_article(source_slug: str, article_slug: str) -> DemoArticle | None:
    matches = (a for a in ARTICLES if a.source == source_slug and a.slug == article_slug)
    return next(matches, None)
