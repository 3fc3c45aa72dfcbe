"""Believable, deterministic demo tutors and students (plain data, no database).

Everything is derived from one ``random.Random(seed)`` so screenshots, tests and
demos see the same people on every run. Tutors are spread over real cities from
:mod:`marketplace.places`, with names, languages, instruments, genres and price levels
that fit the place (fado in Porto, tabla in Mumbai, bluegrass in Nashville).

Prices are in minor units of the marketplace currency (two decimals, EUR by default):
the amounts follow each country's local price level rather than its local currency,
because the marketplace quotes every price in one currency.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from marketplace import places
from marketplace.vocab import (
    FORMATS,
    LEVELS,
    Term,
    genre,
    instrument,
    language_name,
    normalize_key,
)

__all__ = ["DemoStudent", "DemoTutor", "demo_students", "demo_tutors"]

DEFAULT_SEED = 20261122
EMAIL_DOMAIN = "demo.duet.example"


@dataclass(frozen=True)
class DemoTutor:
    email: str
    full_name: str
    display_name: str
    headline: str
    bio_markdown: str
    instruments: tuple[tuple[str, tuple[str, ...]], ...]  # (instrument slug, level slugs taught)
    genres: tuple[str, ...]
    languages: tuple[str, ...]  # ISO 639-1
    formats: tuple[str, ...]
    travel_radius_km: int | None  # set only when "student_home" in formats
    city_geoname_id: int
    time_zone: str
    prices: tuple[tuple[int, int], ...]  # (duration minutes, price in minor units)
    trial_price_minor: int | None


@dataclass(frozen=True)
class DemoStudent:
    email: str
    full_name: str
    time_zone: str
    instruments: tuple[tuple[str, str], ...]  # (instrument slug, level slug)
    phone_e164: str | None


# --- People -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Names:
    female: tuple[str, ...]
    male: tuple[str, ...]
    surnames: tuple[str, ...]
    # Languages with gendered surnames (Czech, Greek) list the feminine form at the same index.
    surnames_female: tuple[str, ...] = ()


def _n(female: str, male: str, surnames: str, surnames_female: str = "") -> _Names:
    return _Names(
        tuple(female.split(", ")),
        tuple(male.split(", ")),
        tuple(surnames.split(", ")),
        tuple(surnames_female.split(", ")) if surnames_female else (),
    )


_NAMES: dict[str, _Names] = {
    "pt": _n(
        "Ana, Beatriz, Inês, Mariana, Joana, Sofia, Rita, Catarina",
        "João, Pedro, Tiago, Miguel, Rui, Duarte, Francisco, Nuno",
        "Silva, Santos, Ferreira, Pereira, Oliveira, Costa, Martins, Sousa, Carvalho, Almeida",
    ),
    "br": _n(
        "Juliana, Camila, Fernanda, Larissa, Letícia, Bianca, Luana, Gabriela",
        "Gabriel, Lucas, Rafael, Thiago, Felipe, Bruno, Vinícius, Caio",
        "Souza, Oliveira, Lima, Nascimento, Barbosa, Gomes, Araújo, Moreira, Cavalcanti, Rocha",
    ),
    "es": _n(
        "Lucía, María, Carmen, Elena, Paula, Marta, Irene, Nuria",
        "Alejandro, Javier, Pablo, Sergio, Diego, Álvaro, Raúl, Jordi",
        "García, Fernández, González, Rodríguez, López, Martínez, Sánchez, Romero, Navarro, Ruiz",
    ),
    "latam": _n(
        "Valentina, Camila, Sofía, Daniela, Ximena, Agustina, Florencia, Renata",
        "Mateo, Santiago, Emiliano, Joaquín, Tomás, Nicolás, Facundo, Rodrigo",
        "Hernández, Gómez, Díaz, Pérez, Castillo, Ramírez, Acosta, Ortiz, Medina, Rojas",
    ),
    "de": _n(
        "Anna, Lena, Katharina, Julia, Sophie, Miriam, Clara, Johanna",
        "Jonas, Lukas, Felix, Maximilian, Tobias, Florian, Matthias, Jan",
        "Müller, Schmidt, Schneider, Fischer, Weber, Wagner, Becker, Hoffmann, Huber, Richter",
    ),
    "fr": _n(
        "Camille, Léa, Manon, Chloé, Juliette, Claire, Margaux, Élodie",
        "Louis, Hugo, Théo, Antoine, Julien, Mathieu, Étienne, Nicolas",
        "Martin, Bernard, Dubois, Durand, Leroy, Moreau, Lefèvre, Girard, Fournier, Tremblay",
    ),
    "gb": _n(
        "Emily, Charlotte, Hannah, Olivia, Grace, Eleanor, Freya, Isla",
        "James, Oliver, Thomas, Harry, George, Daniel, Callum, Rhys",
        "Smith, Jones, Taylor, Brown, Williams, Evans, Thomson, Walker, Hughes, Clarke",
    ),
    "ie": _n(
        "Aoife, Siobhán, Niamh, Ciara, Róisín, Sinéad, Orla, Clodagh",
        "Cian, Oisín, Seán, Darragh, Conor, Eoin, Ronan, Fionn",
        "Murphy, Kelly, O'Sullivan, Walsh, O'Brien, Byrne, Ryan, O'Connor, McCarthy, Doyle",
    ),
    "us": _n(
        "Emma, Olivia, Ava, Madison, Abigail, Jasmine, Brianna, Rachel",
        "Michael, Ethan, Jacob, Tyler, Marcus, Andre, Caleb, Nathan",
        "Johnson, Williams, Miller, Davis, Garcia, Anderson, Thompson, Jackson, Robinson, Nguyen",
    ),
    "au": _n(
        "Chloe, Mia, Ruby, Matilda, Zoe, Sienna, Georgia, Ella",
        "Jack, Liam, Cooper, Lachlan, Riley, Hamish, Angus, Tom",
        "Smith, Wilson, Taylor, Anderson, Mitchell, Campbell, Kelly, Walker, Ngata, Morrison",
    ),
    "nl": _n(
        "Sanne, Fleur, Lotte, Anouk, Eva, Femke, Lieke, Marieke",
        "Daan, Bram, Sem, Lars, Thijs, Jesse, Ruben, Pieter",
        "de Jong, Jansen, de Vries, van den Berg, van Dijk, Bakker, Visser, Smit, Peeters, Maes",
    ),
    "da": _n(
        "Freja, Ida, Mathilde, Sofie, Anna, Karen",
        "Mads, Rasmus, Frederik, Søren, Mikkel, Anders",
        "Nielsen, Jensen, Hansen, Pedersen, Andersen, Christensen, Larsen, Sørensen, Rasmussen",
    ),
    "sv": _n(
        "Elsa, Maja, Astrid, Ebba, Linnea, Klara",
        "Erik, Oskar, Lars, Johan, Viktor, Gustav",
        "Andersson, Johansson, Karlsson, Nilsson, Eriksson, Larsson, Lindqvist, Berg, Holm",
    ),
    "no": _n(
        "Ingrid, Nora, Sigrid, Kari, Solveig, Ida",
        "Magnus, Henrik, Sindre, Eirik, Håkon, Ola",
        "Hansen, Johansen, Olsen, Larsen, Berg, Haugen, Bakken, Solberg, Dahl",
    ),
    "fi": _n(
        "Aino, Emilia, Helmi, Sanna, Laura, Veera",
        "Mikko, Juha, Eero, Antti, Ville, Lauri",
        "Korhonen, Virtanen, Mäkinen, Nieminen, Mäkelä, Hämäläinen, Laine, Koskinen, Järvinen",
    ),
    "pl": _n(
        "Zofia, Maja, Aleksandra, Katarzyna, Agnieszka, Magdalena",
        "Jakub, Piotr, Tomasz, Michał, Krzysztof, Paweł",
        # Forms that do not change with gender, to avoid "Anna Kowalski".
        "Nowak, Wójcik, Kowalczyk, Woźniak, Mazur, Krawczyk, Kaczmarek, Zając, Król, Wieczorek",
    ),
    "cs": _n(
        "Tereza, Eliška, Kateřina, Lucie, Veronika, Barbora",
        "Jan, Tomáš, Jakub, Ondřej, Petr, Martin",
        "Novák, Svoboda, Novotný, Dvořák, Černý, Procházka, Kučera, Veselý, Horák",
        "Nováková, Svobodová, Novotná, Dvořáková, Černá, Procházková, Kučerová, Veselá, Horáková",
    ),
    "hu": _n(
        "Eszter, Réka, Zsófia, Dóra, Katalin, Anna",
        "Bence, Gergő, Máté, Dániel, Balázs, Péter",
        "Nagy, Kovács, Tóth, Szabó, Horváth, Varga, Kiss, Molnár, Farkas",
    ),
    "it": _n(
        "Giulia, Chiara, Francesca, Sara, Martina, Elena, Alessia, Federica",
        "Marco, Luca, Matteo, Alessandro, Davide, Lorenzo, Giuseppe, Simone",
        "Rossi, Russo, Ferrari, Esposito, Bianchi, Romano, Colombo, Ricci, Marino, Greco",
    ),
    "el": _n(
        "Maria, Eleni, Katerina, Sofia, Dimitra, Georgia",
        "Giorgos, Nikos, Dimitris, Kostas, Yannis, Alexandros",
        "Papadopoulos, Georgiou, Nikolaidis, Oikonomou, Vlachos, Karagiannis, Pappas, Dimitriou",
        "Papadopoulou, Georgiou, Nikolaidou, Oikonomou, Vlachou, Karagianni, Pappa, Dimitriou",
    ),
    "tr": _n(
        "Elif, Zeynep, Defne, Ece, Selin, Ayşe",
        "Emre, Mehmet, Can, Burak, Kerem, Onur",
        "Yılmaz, Kaya, Demir, Şahin, Çelik, Yıldız, Aydın, Öztürk, Arslan, Doğan",
    ),
    "ja": _n(
        "Yui, Sakura, Haruka, Aoi, Misaki, Yuki",
        "Haruto, Ren, Sota, Kenji, Takumi, Daiki",
        "Sato, Suzuki, Takahashi, Tanaka, Watanabe, Ito, Yamamoto, Nakamura, Kobayashi",
    ),
    "ko": _n(
        "Ji-woo, Seo-yeon, Min-ji, Ha-eun, Soo-ah, Ye-jin",
        "Min-jun, Ji-ho, Seo-jun, Hyun-woo, Do-yoon, Jae-won",
        "Kim, Lee, Park, Choi, Jung, Kang, Cho, Yoon, Jang, Lim",
    ),
    "in": _n(
        "Priya, Ananya, Kavya, Meera, Aditi, Shreya, Lakshmi, Ishita",
        "Arjun, Rohan, Vikram, Aditya, Rahul, Siddharth, Karthik, Anirban",
        "Sharma, Iyer, Patel, Desai, Kulkarni, Nair, Menon, Joshi, Rao, Chatterjee",
    ),
    "zh": _n(
        "Fang, Xiaoyu, Mei, Yan, Jing, Lina",
        "Wei, Hao, Jun, Lei, Tao, Yifan",
        "Wang, Li, Zhang, Liu, Chen, Yang, Zhao, Huang, Zhou, Wu",
    ),
    "za": _n(
        "Thandiwe, Naledi, Zanele, Lerato, Anika, Nomvula",
        "Sipho, Thabo, Lwazi, Pieter, Kagiso, Riaan",
        "Nkosi, Dlamini, Mokoena, Naidoo, van der Merwe, Botha, Khumalo, Ndlovu, Jacobs",
    ),
    "ng": _n(
        "Adaeze, Chiamaka, Funmilayo, Temitope, Ngozi, Yetunde",
        "Oluwaseun, Chinedu, Tunde, Emeka, Babajide, Ifeanyi",
        "Adeyemi, Okafor, Okonkwo, Adebayo, Balogun, Eze, Nwosu, Ogunleye, Bello",
    ),
}


# --- Places -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Country:
    names: str  # key into _NAMES
    languages: tuple[str, ...]  # local teaching languages, most common first
    hourly: tuple[int, int]  # typical hourly rate range, whole units of the marketplace currency
    schools: tuple[str, ...]


_COUNTRIES: dict[str, _Country] = {
    "PT": _Country(
        "pt", ("pt",), (25, 40), ("ESMAE in Porto", "the Lisbon Superior School of Music")
    ),
    "ES": _Country(
        "es",
        ("es",),
        (25, 45),
        ("the Madrid Royal Conservatory", "ESMUC in Barcelona", "Musikene"),
    ),
    "DE": _Country(
        "de",
        ("de",),
        (40, 70),
        ("the Hanns Eisler School of Music", "the Berlin University of the Arts", "HMT Leipzig"),
    ),
    "AT": _Country("de", ("de",), (40, 65), ("the Vienna University of Music", "the Mozarteum")),
    "CH": _Country("de", ("de",), (80, 120), ("the Zurich University of the Arts", "HEM Geneva")),
    "FR": _Country("fr", ("fr",), (35, 60), ("the Paris Conservatoire", "the Lyon Conservatoire")),
    "GB": _Country(
        "gb",
        ("en",),
        (35, 65),
        (
            "the Royal Academy of Music",
            "the Royal College of Music",
            "the Guildhall School",
            "the Royal Northern College of Music",
            "the Royal Conservatoire of Scotland",
        ),
    ),
    "IE": _Country(
        "ie", ("en",), (35, 60), ("the Royal Irish Academy of Music", "TU Dublin Conservatory")
    ),
    "NL": _Country(
        "nl", ("nl",), (40, 65), ("the Conservatorium van Amsterdam", "Codarts Rotterdam")
    ),
    "BE": _Country(
        "nl",
        ("nl",),
        (35, 55),
        ("the Royal Conservatory of Brussels", "the Royal Conservatoire Antwerp"),
    ),
    "DK": _Country(
        "da", ("da",), (45, 75), ("the Royal Danish Academy of Music", "the Rhythmic Conservatory")
    ),
    "SE": _Country(
        "sv", ("sv",), (40, 65), ("the Royal College of Music in Stockholm", "KMH Stockholm")
    ),
    "NO": _Country("no", ("no",), (45, 75), ("the Norwegian Academy of Music",)),
    "FI": _Country("fi", ("fi",), (40, 60), ("the Sibelius Academy",)),
    "PL": _Country(
        "pl", ("pl",), (25, 40), ("the Chopin University of Music", "the Kraków Academy of Music")
    ),
    "CZ": _Country(
        "cs", ("cs",), (25, 40), ("the Prague Conservatory", "the Academy of Performing Arts")
    ),
    "HU": _Country("hu", ("hu",), (20, 35), ("the Liszt Academy",)),
    "IT": _Country(
        "it",
        ("it",),
        (30, 50),
        ("the Milan Conservatory", "the Santa Cecilia Conservatory", "the Naples Conservatory"),
    ),
    "GR": _Country("el", ("el",), (25, 40), ("the Athens Conservatoire",)),
    "TR": _Country("tr", ("tr",), (20, 35), ("the ITU Turkish Music State Conservatory",)),
    "US": _Country(
        "us",
        ("en",),
        (50, 95),
        (
            "Berklee College of Music",
            "the Juilliard School",
            "the New England Conservatory",
            "the Manhattan School of Music",
        ),
    ),
    "CA": _Country("us", ("en",), (45, 80), ("the Royal Conservatory", "McGill University")),
    "MX": _Country("latam", ("es",), (20, 35), ("the National Conservatory of Music",)),
    "AR": _Country("latam", ("es",), (15, 30), ("the Manuel de Falla Conservatory",)),
    "BR": _Country("br", ("pt",), (20, 40), ("the University of São Paulo", "UNIRIO")),
    "JP": _Country(
        "ja", ("ja",), (40, 70), ("the Tokyo University of the Arts", "Kunitachi College of Music")
    ),
    "KR": _Country(
        "ko",
        ("ko",),
        (35, 65),
        ("the Korea National University of Arts", "Seoul Institute of the Arts"),
    ),
    "IN": _Country(
        "in", ("hi",), (12, 25), ("the KM Music Conservatory", "the Gandharva Mahavidyalaya")
    ),
    "CN": _Country("zh", ("zh",), (25, 50), ("the Shanghai Conservatory of Music",)),
    "ZA": _Country(
        "za", ("en", "af"), (20, 40), ("the South African College of Music", "Wits University")
    ),
    "NG": _Country("ng", ("en", "yo"), (10, 25), ("the MUSON School of Music",)),
    "AU": _Country(
        "au",
        ("en",),
        (50, 85),
        ("the Sydney Conservatorium of Music", "the Melbourne Conservatorium of Music"),
    ),
    "NZ": _Country("au", ("en",), (45, 75), ("the New Zealand School of Music",)),
}


@dataclass(frozen=True)
class _DemoCity:
    name: str
    country: str
    instruments: tuple[str, ...] = ()  # local specialities, drawn far more often here
    genres: tuple[str, ...] = ()  # local scene, preferred when the instruments fit
    languages: tuple[str, ...] = ()  # overrides the country's local languages
    names: str = ""  # overrides the country's name pool


def _c(name: str, country: str, instruments: str = "", genres: str = "", **kw: str) -> _DemoCity:
    return _DemoCity(
        name,
        country,
        tuple(instruments.split()),
        tuple(genres.split()),
        tuple(kw.get("languages", "").split()),
        kw.get("names", ""),
    )


_CITIES: tuple[_DemoCity, ...] = (
    _c("Lisbon", "PT", "portuguese-guitar classical-guitar", "fado"),
    _c("Porto", "PT", "portuguese-guitar classical-guitar", "fado"),
    _c("Madrid", "ES", "classical-guitar", "flamenco"),
    _c("Barcelona", "ES", "", "flamenco latin", languages="es ca"),
    _c("Seville", "ES", "classical-guitar cajon", "flamenco"),
    _c("Granada", "ES", "classical-guitar cajon", "flamenco"),
    _c("Berlin", "DE", "music-production synthesizer dj", "electronic"),
    _c("Hamburg", "DE"),
    _c("Munich", "DE", "", "opera"),
    _c("Leipzig", "DE", "organ harpsichord", "baroque"),
    _c("Vienna", "AT", "", "opera classical"),
    _c("Zurich", "CH"),
    _c("Geneva", "CH", languages="fr", names="fr"),
    _c("Paris", "FR", "accordion", "jazz"),
    _c("Lyon", "FR"),
    _c("Marseille", "FR", "", "hip-hop"),
    _c("London", "GB", "steel-pan", "musical-theatre"),
    _c("Manchester", "GB", "", "rock"),
    _c("Glasgow", "GB", "bagpipes", "celtic"),
    _c("Edinburgh", "GB", "bagpipes", "celtic"),
    _c("Bristol", "GB", "dj", "electronic"),
    _c("Dublin", "IE", "tin-whistle bouzouki", "celtic"),
    _c("Galway", "IE", "tin-whistle bouzouki", "celtic", languages="en ga"),
    _c("Amsterdam", "NL"),
    _c("Utrecht", "NL", "recorder harpsichord viola-da-gamba lute", "early-music"),
    _c("Brussels", "BE", languages="fr nl", names="fr"),
    _c("Copenhagen", "DK"),
    _c("Stockholm", "SE"),
    _c("Gothenburg", "SE", "", "metal"),
    _c("Oslo", "NO"),
    _c("Helsinki", "FI", "", "metal", languages="fi sv"),
    _c("Warsaw", "PL"),
    _c("Krakow", "PL", "clarinet", "klezmer"),
    _c("Prague", "CZ"),
    _c("Budapest", "HU", "", "klezmer"),
    _c("Rome", "IT", "", "opera"),
    _c("Milan", "IT", "", "opera"),
    _c("Naples", "IT", "mandolin"),
    _c("Athens", "GR", "bouzouki", "rebetiko"),
    _c("Thessaloniki", "GR", "bouzouki oud", "rebetiko"),
    _c("Istanbul", "TR", "oud", "middle-eastern"),
    _c("New York", "US", "saxophone double-bass", "jazz musical-theatre", languages="en es"),
    _c("Chicago", "US", "harmonica", "blues jazz"),
    _c("New Orleans", "US", "trumpet trombone saxophone tuba", "jazz blues funk"),
    _c("Los Angeles", "US", "music-production", "film-music pop", languages="en es"),
    _c("Nashville", "US", "banjo mandolin acoustic-guitar", "country bluegrass"),
    _c("Toronto", "CA"),
    _c("Montreal", "CA", "", "jazz", languages="fr en", names="fr"),
    _c("Mexico City", "MX", "latin-percussion", "latin"),
    _c("Buenos Aires", "AR", "bandoneon", "tango"),
    _c("São Paulo", "BR", "cavaquinho", "bossa-nova samba"),
    _c("Rio de Janeiro", "BR", "cavaquinho latin-percussion", "samba bossa-nova"),
    _c("Salvador", "BR", "latin-percussion", "samba"),
    _c("Tokyo", "JP", "koto", "japanese-traditional"),
    _c("Seoul", "KR", "", "k-pop"),
    _c("Mumbai", "IN", "tabla sitar bansuri", "indian-classical film-music", languages="hi mr"),
    _c("Chennai", "IN", "", "indian-classical", languages="ta"),
    _c("Shanghai", "CN", "erhu guzheng", "chinese-traditional"),
    _c("Cape Town", "ZA", "", "jazz"),
    _c("Lagos", "NG", "djembe saxophone", "afrobeat gospel"),
    _c("Sydney", "AU"),
    _c("Melbourne", "AU"),
    _c("Auckland", "NZ", languages="en mi"),
)


@cache
def _resolved_cities() -> tuple[tuple[_DemoCity, places.City], ...]:
    resolved = []
    for demo_city in _CITIES:
        city = places.find_city(demo_city.name, demo_city.country)
        if city is None:
            raise LookupError(f"demo city {demo_city.name}/{demo_city.country} not in places")
        resolved.append((demo_city, city))
    return tuple(resolved)


# --- Music ----------------------------------------------------------------------------

# How common each instrument is among tutors anywhere. Instruments missing here only
# appear where a city lists them as a local speciality (no oud teachers in Oslo).
_INSTRUMENT_WEIGHTS: dict[str, int] = {
    "piano": 16,
    "voice": 12,
    "acoustic-guitar": 10,
    "electric-guitar": 7,
    "violin": 7,
    "drums": 7,
    "classical-guitar": 5,
    "bass-guitar": 4,
    "cello": 4,
    "keyboard": 3,
    "ukulele": 3,
    "saxophone": 3,
    "flute": 3,
    "music-theory": 3,
    "trumpet": 2,
    "clarinet": 2,
    "songwriting": 2,
    "music-production": 2,
    "double-bass": 1,
    "viola": 1,
    "harp": 1,
    "trombone": 1,
    "french-horn": 1,
    "oboe": 1,
    "bassoon": 1,
    "percussion": 1,
    "composition": 1,
    "synthesizer": 1,
    "organ": 1,
    "accordion": 1,
    "harmonica": 1,
    "mandolin": 1,
    "recorder": 1,
    "cajon": 1,
    "dj": 1,
}
_LOCAL_SPECIALITY_WEIGHT = 25

# Subjects anyone may add on top of their main instrument.
_ADD_ONS = ("music-theory", "songwriting", "composition", "voice")

# Instruments one teacher plausibly teaches together. Finer than vocabulary families:
# a guitarist may teach ukulele but rarely cello, though both are "strings".
_COMPANION_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"piano", "keyboard", "organ", "harpsichord", "accordion", "synthesizer"}),
    frozenset(
        {"acoustic-guitar", "electric-guitar", "classical-guitar", "bass-guitar", "ukulele"}
        | {"mandolin", "banjo", "portuguese-guitar", "cavaquinho", "bouzouki"}
    ),
    frozenset({"violin", "viola", "cello", "double-bass", "viola-da-gamba"}),
    frozenset({"flute", "clarinet", "saxophone", "oboe", "bassoon", "recorder", "tin-whistle"}),
    frozenset({"trumpet", "trombone", "french-horn", "euphonium", "tuba"}),
    frozenset({"drums", "percussion", "cajon", "latin-percussion", "djembe", "vibraphone"}),
    frozenset({"music-production", "dj", "synthesizer"}),
    frozenset({"sitar", "tabla", "bansuri"}),
    frozenset({"harp", "lute", "classical-guitar"}),
)


def _companions(slug: str) -> frozenset[str]:
    return frozenset().union(*(group for group in _COMPANION_GROUPS if slug in group))


# Genres each instrument is commonly taught in, most typical first.
_INSTRUMENT_GENRES: dict[str, tuple[str, ...]] = {
    "piano": ("classical", "jazz", "pop", "blues", "musical-theatre", "film-music", "gospel"),
    "keyboard": ("pop", "rock", "funk", "soul", "gospel", "r-and-b", "electronic"),
    "organ": ("classical", "baroque", "gospel", "jazz"),
    "harpsichord": ("baroque", "early-music", "classical"),
    "accordion": ("folk", "tango", "klezmer", "latin", "celtic"),
    "bandoneon": ("tango", "folk"),
    "acoustic-guitar": ("folk", "pop", "rock", "blues", "country", "bossa-nova"),
    "electric-guitar": ("rock", "blues", "metal", "jazz", "funk", "pop"),
    "classical-guitar": ("classical", "flamenco", "fado", "bossa-nova", "latin", "tango"),
    "portuguese-guitar": ("fado", "folk"),
    "bass-guitar": ("rock", "funk", "jazz", "soul", "pop", "metal", "r-and-b", "reggae"),
    "double-bass": ("jazz", "classical", "bluegrass", "blues", "tango"),
    "ukulele": ("pop", "folk"),
    "violin": ("classical", "baroque", "folk", "celtic", "klezmer", "bluegrass", "jazz", "tango"),
    "viola": ("classical", "baroque", "contemporary-classical", "folk"),
    "cello": ("classical", "baroque", "contemporary-classical", "film-music", "pop"),
    "viola-da-gamba": ("early-music", "baroque"),
    "harp": ("classical", "celtic", "film-music", "folk"),
    "lute": ("early-music", "baroque"),
    "mandolin": ("bluegrass", "folk", "celtic", "classical"),
    "banjo": ("bluegrass", "country", "folk", "celtic"),
    "cavaquinho": ("samba", "bossa-nova"),
    "sitar": ("indian-classical", "film-music", "world"),
    "oud": ("middle-eastern", "rebetiko", "world"),
    "bouzouki": ("rebetiko", "celtic", "folk"),
    "erhu": ("chinese-traditional", "film-music"),
    "guzheng": ("chinese-traditional", "film-music"),
    "koto": ("japanese-traditional", "contemporary-classical"),
    "flute": ("classical", "baroque", "jazz", "celtic", "latin"),
    "recorder": ("early-music", "baroque", "folk"),
    "tin-whistle": ("celtic", "folk"),
    "bansuri": ("indian-classical", "world", "film-music"),
    "clarinet": ("classical", "jazz", "klezmer"),
    "oboe": ("classical", "baroque"),
    "bassoon": ("classical", "baroque", "contemporary-classical"),
    "saxophone": ("jazz", "funk", "soul", "pop", "blues", "afrobeat"),
    "harmonica": ("blues", "folk", "country", "rock"),
    "bagpipes": ("celtic", "folk"),
    "trumpet": ("jazz", "classical", "latin", "funk", "afrobeat"),
    "trombone": ("jazz", "classical", "funk", "latin", "reggae"),
    "french-horn": ("classical", "film-music"),
    "euphonium": ("classical", "jazz"),
    "tuba": ("classical", "jazz"),
    "drums": ("rock", "jazz", "funk", "metal", "pop", "latin", "afrobeat", "hip-hop", "reggae"),
    "percussion": ("classical", "latin", "world", "afrobeat", "samba", "contemporary-classical"),
    "vibraphone": ("jazz", "contemporary-classical"),
    "latin-percussion": ("latin", "samba", "bossa-nova", "jazz", "afrobeat"),
    "cajon": ("flamenco", "latin", "pop", "folk"),
    "djembe": ("afrobeat", "world"),
    "tabla": ("indian-classical", "world", "film-music"),
    "steel-pan": ("world", "reggae", "latin", "jazz"),
    "voice": (
        "pop",
        "jazz",
        "classical",
        "opera",
        "musical-theatre",
        "soul",
        "gospel",
        "r-and-b",
        "rock",
        "choral",
        "folk",
        "fado",
        "flamenco",
        "tango",
        "samba",
        "bossa-nova",
        "k-pop",
        "indian-classical",
        "celtic",
        "rebetiko",
        "afrobeat",
        "country",
        "blues",
    ),
    "music-production": ("electronic", "hip-hop", "pop", "film-music", "r-and-b"),
    "dj": ("electronic", "hip-hop"),
    "synthesizer": ("electronic", "film-music", "pop"),
    "music-theory": ("classical", "jazz", "pop", "contemporary-classical"),
    "composition": ("classical", "film-music", "contemporary-classical", "jazz"),
    "songwriting": ("pop", "folk", "rock", "country", "r-and-b"),
    "conducting": ("classical", "choral", "opera"),
}

# Genres tied to a place: offered only where the city's scene has them, or by a
# specialist whose instrument is all about that genre (a tabla player anywhere).
_PLACE_BOUND_GENRES = frozenset(
    {
        "fado",
        "flamenco",
        "tango",
        "samba",
        "bossa-nova",
        "k-pop",
        "indian-classical",
        "celtic",
        "rebetiko",
        "afrobeat",
        "middle-eastern",
        "chinese-traditional",
        "japanese-traditional",
        "klezmer",
        "bluegrass",
    }
)

_PERFORMERS: dict[str, str] = {
    "piano": "pianist",
    "keyboard": "keyboardist",
    "organ": "organist",
    "harpsichord": "harpsichordist",
    "accordion": "accordionist",
    "bandoneon": "bandoneonist",
    "acoustic-guitar": "guitarist",
    "electric-guitar": "guitarist",
    "classical-guitar": "classical guitarist",
    "portuguese-guitar": "Portuguese guitar player",
    "bass-guitar": "bassist",
    "double-bass": "double bassist",
    "ukulele": "ukulele player",
    "violin": "violinist",
    "viola": "violist",
    "cello": "cellist",
    "viola-da-gamba": "gambist",
    "harp": "harpist",
    "lute": "lutenist",
    "mandolin": "mandolinist",
    "banjo": "banjo player",
    "cavaquinho": "cavaquinho player",
    "sitar": "sitarist",
    "oud": "oud player",
    "bouzouki": "bouzouki player",
    "erhu": "erhu player",
    "guzheng": "guzheng player",
    "koto": "koto player",
    "flute": "flautist",
    "recorder": "recorder player",
    "tin-whistle": "whistle player",
    "bansuri": "bansuri player",
    "clarinet": "clarinettist",
    "oboe": "oboist",
    "bassoon": "bassoonist",
    "saxophone": "saxophonist",
    "harmonica": "harmonica player",
    "bagpipes": "piper",
    "trumpet": "trumpeter",
    "trombone": "trombonist",
    "french-horn": "horn player",
    "euphonium": "euphonium player",
    "tuba": "tuba player",
    "drums": "drummer",
    "percussion": "percussionist",
    "vibraphone": "vibraphonist",
    "latin-percussion": "percussionist",
    "cajon": "cajón player",
    "djembe": "djembe player",
    "tabla": "tabla player",
    "steel-pan": "steel pan player",
    "voice": "singer",
    "music-production": "producer",
    "dj": "DJ",
    "synthesizer": "synth player",
    "music-theory": "music theory teacher",
    "composition": "composer",
    "songwriting": "songwriter",
    "conducting": "conductor",
}

# (short headline focus, things a lesson covers) per genre; the fallback suits anything.
_FOCUS: dict[str, tuple[str, tuple[str, ...]]] = {
    "classical": (
        "technique, repertoire and exam preparation",
        ("solid technique", "classical repertoire", "sight-reading", "graded exams"),
    ),
    "baroque": (
        "historically informed playing",
        ("ornamentation", "continuo", "baroque style and articulation"),
    ),
    "early-music": (
        "historically informed playing",
        ("ornamentation", "reading from facsimiles", "Renaissance and baroque style"),
    ),
    "opera": (
        "breath, technique and repertoire",
        ("breath support", "diction", "arias and art song"),
    ),
    "choral": ("confident ensemble singing", ("breath support", "sight-singing", "blend")),
    "jazz": (
        "improvisation, harmony and standards",
        ("swing feel", "improvisation", "jazz harmony", "learning standards by ear"),
    ),
    "blues": ("groove, phrasing and improvisation", ("the 12-bar form", "phrasing", "soloing")),
    "rock": (
        "riffs, rhythm and playing in a band",
        ("riffs and rhythm", "your favourite songs", "playing with a band"),
    ),
    "metal": ("speed, precision and heavy riffs", ("clean technique at speed", "riffs", "timing")),
    "pop": (
        "the songs you love, from first chords to the stage",
        ("the songs you love", "reading chord charts", "performing"),
    ),
    "funk": ("groove, feel and timing", ("groove", "tight timing", "playing in the pocket")),
    "soul": ("groove, feel and timing", ("groove", "feel", "classic soul repertoire")),
    "r-and-b": ("groove, feel and modern R&B style", ("groove", "riffs and runs", "harmony")),
    "hip-hop": ("beats, flow and production", ("beat making", "arrangement", "mixing")),
    "electronic": (
        "sound design, arrangement and live sets",
        ("sound design", "arrangement", "mixing", "performing live"),
    ),
    "film-music": ("writing and playing for picture", ("scoring to picture", "orchestration")),
    "musical-theatre": (
        "audition songs and performance",
        ("audition repertoire", "acting through song", "stamina"),
    ),
    "gospel": ("gospel feel and harmony", ("gospel harmony", "playing by ear", "worship sets")),
    "folk": ("songs, strumming and playing by ear", ("playing by ear", "accompanying songs")),
    "country": ("chords, picking and classic country songs", ("flatpicking", "chord shapes")),
    "bluegrass": ("fiddle tunes, picking and jamming", ("fiddle tunes", "jamming", "breaks")),
    "celtic": (
        "traditional tunes, ornamentation and sessions",
        ("learning tunes by ear", "ornamentation", "session etiquette"),
    ),
    "fado": (
        "fado repertoire and accompaniment",
        ("fado repertoire", "accompanying a fadista", "the Lisbon and Coimbra styles"),
    ),
    "flamenco": ("compás, rasgueado and falsetas", ("compás", "rasgueado", "palos and falsetas")),
    "tango": ("tango phrasing and repertoire", ("tango rhythm and phrasing", "arranging")),
    "samba": ("Brazilian rhythm and repertoire", ("samba and choro grooves", "partido alto")),
    "bossa-nova": ("bossa nova harmony and rhythm", ("bossa nova comping", "rich chord voicings")),
    "latin": ("Latin rhythms and grooves", ("clave", "salsa and cumbia patterns")),
    "indian-classical": ("ragas, talas and riyaz", ("ragas", "talas", "daily riyaz")),
    "middle-eastern": ("maqam, taqsim and repertoire", ("maqamat", "taqsim improvisation")),
    "rebetiko": ("rebetiko repertoire and dromoi", ("dromoi (modes)", "taximi")),
    "klezmer": ("klezmer ornaments and dance tunes", ("krekhts and ornaments", "dance tunes")),
    "world": ("rhythm, repertoire and ear training", ("rhythm cycles", "learning by ear")),
    "afrobeat": ("Afrobeat grooves and highlife", ("interlocking grooves", "highlife")),
    "k-pop": ("K-pop vocals and performance", ("vocal technique", "choreography-ready stamina")),
    "chinese-traditional": ("traditional repertoire and technique", ("traditional pieces",)),
    "japanese-traditional": ("traditional repertoire and technique", ("traditional pieces",)),
}
_DEFAULT_FOCUS = (
    "technique and musicianship at every level",
    ("technique", "musicianship", "repertoire you enjoy"),
)

_ENSEMBLES: dict[str, str] = {
    "classical": "orchestras and chamber groups",
    "opera": "opera houses and recital halls",
    "choral": "choirs across the country",
    "baroque": "period-instrument ensembles",
    "early-music": "period-instrument ensembles",
    "jazz": "jazz clubs and big bands",
    "rock": "bands, studios and festival stages",
    "metal": "bands on tour and in the studio",
    "pop": "cover bands, studios and weddings",
    "electronic": "clubs and festival stages",
    "musical-theatre": "West End-style productions and touring shows",
    "celtic": "pub sessions and festivals",
    "fado": "fado houses",
    "flamenco": "tablaos and dance companies",
    "tango": "milongas and tango orchestras",
    "indian-classical": "concerts and recording sessions",
    "gospel": "church bands and gospel choirs",
}

# Words that keep their capital letter when a vocabulary name is used mid-sentence.
_PROPER_WORDS = frozenset(
    {"French", "Portuguese", "Latin", "DJing", "R&B", "K-Pop", "Indian", "Celtic"}
    | {"Middle", "Eastern", "Chinese", "Japanese", "Afrobeat"}
)


def _prose(term: Term) -> str:
    return " ".join(w if w in _PROPER_WORDS else w.lower() for w in term.name.split(" "))


def _instrument(slug: str) -> Term:
    term = instrument(slug)
    if term is None:
        raise KeyError(f"unknown instrument {slug!r} in demo data")
    return term


def _genre(slug: str) -> Term:
    term = genre(slug)
    if term is None:
        raise KeyError(f"unknown genre {slug!r} in demo data")
    return term


def _subject(slug: str) -> str:
    """How the subject reads in "I teach X"."""
    return "singing" if slug == "voice" else _prose(_instrument(slug))


def _activity(slug: str) -> str:
    """How the subject reads in "I started X at 8"."""
    special = {
        "voice": "singing",
        "music-theory": "studying music theory",
        "composition": "composing",
        "songwriting": "writing songs",
        "music-production": "producing music",
        "dj": "DJing",
        "conducting": "conducting",
        "drums": "playing drums",
        "percussion": "playing percussion",
        "latin-percussion": "playing percussion",
        "bagpipes": "playing the pipes",
    }
    return special.get(slug, f"playing the {_prose(_instrument(slug))}")


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _weighted_sample(
    rng: random.Random, population: Sequence[str], weights: Sequence[float], k: int
) -> list[str]:
    """k distinct items, each draw proportional to weight (random.sample has no weights)."""
    pool = list(population)
    pool_weights = list(weights)
    chosen: list[str] = []
    while pool and len(chosen) < k:
        (index,) = rng.choices(range(len(pool)), weights=pool_weights)
        chosen.append(pool.pop(index))
        pool_weights.pop(index)
    return chosen


# --- Tutors ---------------------------------------------------------------------------

_LEVEL_SLUGS = tuple(term.slug for term in LEVELS)
_FORMAT_ORDER = tuple(term.slug for term in FORMATS)
_MIXED_FORMATS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("studio", "online"), 3),
    (("student_home", "online"), 2),
    (("studio", "student_home", "online"), 2),
    (("studio",), 1),
    (("studio", "student_home"), 1),
    (("student_home",), 1),
)
_DURATION_SETS: tuple[tuple[tuple[int, ...], int], ...] = (
    ((30, 60), 4),
    ((45, 60), 3),
    ((60, 90), 2),
    ((30, 45, 60), 3),
    ((30, 60, 90), 2),
    ((45, 60, 90), 2),
    ((30, 45), 1),
)
# Price of each duration relative to the hourly rate: short lessons cost a bit more per
# minute (travel, setup), long ones a little less.
_DURATION_FACTORS = {30: 0.55, 45: 0.8, 60: 1.0, 90: 1.45}
_RADII_KM = (5, 8, 10, 15, 20, 25, 30)
_EXTRA_LANGUAGES = ("en", "es", "fr", "de", "it", "pt")
_HEADLINE_MAX = 90


def _email_part(text: str) -> str:
    return "".join(ch for ch in normalize_key(text) if ch.isascii() and ch.isalnum())


def _pick_instruments(rng: random.Random, city: _DemoCity) -> list[str]:
    weights = dict(_INSTRUMENT_WEIGHTS)
    for slug in city.instruments:
        weights[slug] = weights.get(slug, 0) + _LOCAL_SPECIALITY_WEIGHT
    slugs = list(weights)
    primary = rng.choices(slugs, weights=[weights[s] for s in slugs])[0]
    count = rng.choices((1, 2, 3), weights=(50, 35, 15))[0]
    companions = _companions(primary)
    candidates = [s for s in slugs if s != primary and (s in companions or s in _ADD_ONS)]
    extra = _weighted_sample(rng, candidates, [weights[s] for s in candidates], count - 1)
    return [primary, *extra]


def _pick_levels(rng: random.Random, is_primary: bool) -> tuple[str, ...]:
    if is_primary:
        start = rng.choices((0, 1, 2), weights=(7, 2, 1))[0]
        length = rng.randint(1, len(_LEVEL_SLUGS) - start)
        if start == 0:
            length = max(length, 2)  # beginners' teachers nearly always go beyond beginner
    else:
        start, length = 0, rng.randint(1, 2)  # side subjects: the first steps only
    return _LEVEL_SLUGS[start : start + length]


def _pick_genres(rng: random.Random, primary: str, city: _DemoCity) -> list[str]:
    """An anchor genre, then a few neighbours, so nobody teaches "rock and opera"."""
    candidates = _INSTRUMENT_GENRES[primary]
    specialist = candidates[0]
    allowed = [
        g for g in candidates if g not in _PLACE_BOUND_GENRES or g in city.genres or g == specialist
    ]

    def weight(position: int, slug: str) -> float:
        if slug in city.genres:
            return 8.0
        return 3.0 if position < 4 else 1.0  # an instrument's typical genres come first

    weights = [weight(candidates.index(g), g) for g in allowed]
    anchor = _weighted_sample(rng, allowed, weights, 1)[0]
    family = _genre(anchor).family
    near = {family} | ({"jazz", "popular"} if family in {"jazz", "popular"} else set())
    neighbours = [
        g for g in allowed if g != anchor and (_genre(g).family in near or g in city.genres)
    ]
    count = rng.choices((0, 1, 2, 3), weights=(3, 4, 3, 1))[0]
    extra = _weighted_sample(
        rng, neighbours, [weights[allowed.index(g)] for g in neighbours], count
    )
    return [anchor, *extra]


def _pick_languages(rng: random.Random, city: _DemoCity, country: _Country) -> list[str]:
    languages = list(city.languages or country.languages)
    if "en" not in languages and rng.random() < 0.7:
        languages.append("en")
    if rng.random() < 0.2:
        third = rng.choice([code for code in _EXTRA_LANGUAGES if code not in languages])
        languages.append(third)
    return languages


def _pick_formats(rng: random.Random) -> tuple[str, ...]:
    if rng.random() < 0.4:
        return ("online",)
    combos = [combo for combo, _ in _MIXED_FORMATS]
    chosen = rng.choices(combos, weights=[w for _, w in _MIXED_FORMATS])[0]
    return tuple(slug for slug in _FORMAT_ORDER if slug in chosen)


def _pick_prices(
    rng: random.Random, country: _Country, premium: bool
) -> tuple[tuple[tuple[int, int], ...], int | None]:
    low, high = country.hourly
    hourly = rng.uniform(low, high) * (1.15 if premium else 1.0)
    hourly_units = max(5, 5 * round(hourly / 5))
    durations = rng.choices([d for d, _ in _DURATION_SETS], weights=[w for _, w in _DURATION_SETS])[
        0
    ]
    prices = []
    for minutes in durations:
        units = round(hourly_units * _DURATION_FACTORS[minutes])
        if minutes == 30:
            # Strictly more than half the hourly rate, as students expect short lessons to be.
            units = max(units, math.floor(hourly_units / 2) + 1)
        prices.append((minutes, units * 100))
    trial = None
    if rng.random() < 0.5:
        trial = max(5, 5 * round(hourly_units * rng.uniform(0.3, 0.5) / 5)) * 100
    return tuple(prices), trial


def _headline(
    rng: random.Random,
    performer: str,
    genre_term: Term,
    school: str,
    city: str,
    years: int,
) -> str:
    focus = _FOCUS.get(genre_term.slug, _DEFAULT_FOCUS)[0]
    genre_name = _prose(genre_term)
    # "Jazz pianist", but not "Classical classical guitarist" or "Fado Portuguese guitar player".
    styled = performer if " " in performer else f"{genre_name} {performer}"
    templates = (
        f"{styled} and {school.removeprefix('the ')} graduate teaching {focus}",
        f"{performer} with {years} years of teaching experience: {focus}",
        f"Friendly {performer} in {city} teaching {focus}",
        f"Professional {styled} offering lessons in {focus}",
        f"{styled} trained at {school}",
        f"Patient {performer} for beginners and returners, {genre_name} and beyond",
    )
    # Listing cards truncate long headlines, so prefer the templates that fit.
    shuffled = rng.sample(templates, len(templates))
    text = next((t for t in shuffled if len(t) <= _HEADLINE_MAX), min(templates, key=len))
    return text[0].upper() + text[1:]


def _bio(
    rng: random.Random,
    *,
    first_name: str,
    city: str,
    instruments: Sequence[tuple[str, tuple[str, ...]]],
    genres: Sequence[str],
    languages: Sequence[str],
    formats: Sequence[str],
    radius: int | None,
    school: str,
    years: int,
    has_trial: bool,
) -> str:
    primary, primary_levels = instruments[0]
    performer = _PERFORMERS.get(primary, f"{_subject(primary)} teacher")
    subjects = _join([_subject(slug) for slug, _ in instruments])
    genre_names = _join([_prose(_genre(g)) for g in genres])
    first_genre = genres[0]
    focus_items = _FOCUS.get(first_genre, _DEFAULT_FOCUS)[1]
    ensemble = _ENSEMBLES.get(first_genre, "bands and ensembles of every kind")
    start_age = rng.choice((5, 6, 7, 8, 9, 11, 13, 15))

    intro = rng.choice(
        (
            f"I'm {first_name}, a {performer} based in {city}. I started {_activity(primary)} "
            f"at {start_age} and have been teaching {subjects} for {years} years.",
            f"Hi! I'm {first_name}. I studied at {school} and now split my time between "
            f"performing with {ensemble} and teaching {subjects} in {city}.",
            f"{first_name} here: {performer}, {genre_names} enthusiast and teacher for "
            f"{years} years. Over that time I've played with {ensemble}.",
        )
    )

    lo, hi = primary_levels[0], primary_levels[-1]
    if lo == hi:
        level_text = f"I focus on **{lo}** students"
    elif lo == "beginner":
        level_text = f"I teach everyone from **complete beginners** to **{hi}** students"
    else:
        level_text = f"My students range from **{lo}** to **{hi}** level"
    approach = rng.choice(
        (
            f"{level_text}. Every lesson is built around music you actually want to play, "
            f"with {_join(list(focus_items[:2]))} woven in along the way.",
            f"{level_text}, mostly in {genre_names}. There is no one-size-fits-all method; "
            f"depending on your goals we'll work on:\n\n"
            + "\n".join(f"- {item}" for item in focus_items[:3]),
            f"{level_text}. Expect a clear plan, honest feedback and something concrete to "
            f"practise each week: {_join(list(focus_items[:3]))}.",
        )
    )

    where = []
    if "studio" in formats:
        where.append(f"at my studio in {city}")
    if "student_home" in formats:
        where.append(f"at your home (within {radius} km)")
    if "online" in formats:
        where.append("online")
    if formats == ("online",):
        practical = "All lessons are online: a laptop or phone and a quiet room are enough."
    else:
        practical = f"Lessons take place {_join(where)}."
    spoken = _join([language_name(code) or code for code in languages])
    practical += f" I teach in {spoken}."
    if has_trial:
        practical += rng.choice(
            (
                " **New here?** Book a trial lesson first and see whether we click.",
                " The first lesson is a reduced-price trial, no strings attached.",
            )
        )
    return "\n\n".join((intro, approach, practical))


def demo_tutors(count: int = 200, seed: int = DEFAULT_SEED) -> list[DemoTutor]:
    """``count`` tutors, identical for the same ``seed`` on every call and machine."""
    rng = random.Random(seed)
    cities = _resolved_cities()
    # Every city gets a tutor before any gets a second, so small counts still spread out.
    order = list(range(len(cities)))
    rng.shuffle(order)
    tutors: list[DemoTutor] = []
    for number in range(1, count + 1):
        if number <= len(order):
            demo_city, city = cities[order[number - 1]]
        else:
            demo_city, city = rng.choice(cities)
        country = _COUNTRIES[demo_city.country]
        names = _NAMES[demo_city.names or country.names]
        female = rng.random() < 0.5
        first = rng.choice(names.female if female else names.male)
        surname_index = rng.randrange(len(names.surnames))
        pool = names.surnames_female if female and names.surnames_female else names.surnames
        last = pool[surname_index]

        instrument_slugs = _pick_instruments(rng, demo_city)
        instruments = tuple(
            (slug, _pick_levels(rng, is_primary=i == 0)) for i, slug in enumerate(instrument_slugs)
        )
        genres = tuple(_pick_genres(rng, instrument_slugs[0], demo_city))
        languages = tuple(_pick_languages(rng, demo_city, country))
        formats = _pick_formats(rng)
        radius = rng.choice(_RADII_KM) if "student_home" in formats else None
        premium = "professional" in instruments[0][1]
        prices, trial = _pick_prices(rng, country, premium)
        school = rng.choice(country.schools)
        years = rng.randint(3, 25)
        performer = _PERFORMERS.get(instrument_slugs[0], f"{_subject(instrument_slugs[0])} teacher")
        headline = _headline(rng, performer, _genre(genres[0]), school, demo_city.name, years)
        bio = _bio(
            rng,
            first_name=first,
            city=demo_city.name,
            instruments=instruments,
            genres=genres,
            languages=languages,
            formats=formats,
            radius=radius,
            school=school,
            years=years,
            has_trial=trial is not None,
        )
        tutors.append(
            DemoTutor(
                email=f"{_email_part(first)}.{_email_part(last)}.{number}@{EMAIL_DOMAIN}",
                full_name=f"{first} {last}",
                display_name=f"{first} {last.split(' ')[-1][0].upper()}.",
                headline=headline,
                bio_markdown=bio,
                instruments=instruments,
                genres=genres,
                languages=languages,
                formats=formats,
                travel_radius_km=radius,
                city_geoname_id=city.geoname_id,
                time_zone=city.time_zone,
                prices=prices,
                trial_price_minor=trial,
            )
        )
    return tutors


# --- Students -------------------------------------------------------------------------


def demo_students() -> list[DemoStudent]:
    """Five students in different time zones.

    Phone numbers come from ranges regulators reserve for fiction (Ofcom's London
    020 7946 0xxx, NANP 555-01xx, Berlin 030 23125 xxx, ACMA 0491 570 xxx), so the
    demo can never text a real person. Portugal has no such range, hence None.
    """
    return [
        DemoStudent(
            email=f"student1@{EMAIL_DOMAIN}",
            full_name="Olivia Bennett",
            time_zone="Europe/London",
            instruments=(("piano", "beginner"),),
            phone_e164="+442079460123",
        ),
        DemoStudent(
            email=f"student2@{EMAIL_DOMAIN}",
            full_name="Tiago Moreira",
            time_zone="Europe/Lisbon",
            instruments=(("classical-guitar", "intermediate"), ("portuguese-guitar", "beginner")),
            phone_e164=None,
        ),
        DemoStudent(
            email=f"student3@{EMAIL_DOMAIN}",
            full_name="Maya Goldberg",
            time_zone="America/New_York",
            instruments=(("voice", "beginner"), ("music-theory", "beginner")),
            phone_e164="+12125550123",
        ),
        DemoStudent(
            email=f"student4@{EMAIL_DOMAIN}",
            full_name="Jonas Weber",
            time_zone="Europe/Berlin",
            instruments=(("drums", "advanced"),),
            phone_e164="+493023125123",
        ),
        DemoStudent(
            email=f"student5@{EMAIL_DOMAIN}",
            full_name="Lachlan Murray",
            time_zone="Australia/Sydney",
            instruments=(("electric-guitar", "beginner"), ("bass-guitar", "intermediate")),
            phone_e164="+61491570156",
        ),
    ]
