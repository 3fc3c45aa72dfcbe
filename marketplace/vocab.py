"""Curated vocabulary: instruments, genres, levels, lesson formats and languages.

Slugs are the stable identifiers stored in the database and used in URLs; names and
synonyms are for display and for matching what students type ("sax", "Gitarre",
"vocals"). The data lives in code rather than configuration because it changes with
releases, is reviewed like code, and must be identical in every process.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "FORMATS",
    "GENRES",
    "INSTRUMENTS",
    "LANGUAGES",
    "LANGUAGE_NATIVE_NAMES",
    "LEVELS",
    "Term",
    "format_",
    "genre",
    "instrument",
    "language_name",
    "language_native_name",
    "lesson_format",
    "level",
    "normalize_key",
    "resolve_genre",
    "resolve_instrument",
    "synonym_groups",
]


@dataclass(frozen=True)
class Term:
    """One entry of a vocabulary; ``family`` groups terms for browsing menus."""

    slug: str
    name: str
    synonyms: tuple[str, ...] = ()
    family: str = ""


# Letters that NFKD does not decompose into base letter + accent, so stripping
# combining marks alone would leave "Łódź" or "Tromsø" unmatched by plain ASCII input.
_EXTRA_FOLDS: dict[str, str] = {
    "ł": "l",
    "Ł": "l",
    "ø": "o",
    "Ø": "o",
    "đ": "d",
    "Đ": "d",
    "ð": "d",
    "Ð": "d",
    "þ": "th",
    "Þ": "th",
    "æ": "ae",
    "Æ": "ae",
    "œ": "oe",
    "Œ": "oe",
    "\u0131": "i",  # Turkish dotless i
    "ħ": "h",
    "Ħ": "h",
}
# Regexes rather than str.translate/per-char loops: places.py folds ~350k city names
# at startup and these run in C.
_EXTRA_FOLD_RE = re.compile("[" + "".join(_EXTRA_FOLDS) + "]")
_COMBINING_RE = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_SEPARATORS_RE = re.compile("[\\s\\-_\u2010\u2011\u2013\u2014]+")  # incl. Unicode dashes


def _fold_extra(match: re.Match[str]) -> str:
    return _EXTRA_FOLDS[match.group()]


def normalize_key(text: str) -> str:
    """Fold text for lookups: case-, accent- and separator-insensitive.

    "Guitarra Clásica", "guitarra-clasica" and "GUITARRA_CLASICA" all give
    "guitarra clasica". Also used by :mod:`marketplace.places` for city names.
    """
    if not text.isascii():
        text = _EXTRA_FOLD_RE.sub(_fold_extra, text)
        text = _COMBINING_RE.sub("", unicodedata.normalize("NFKD", text))
    return _SEPARATORS_RE.sub(" ", text.casefold()).strip()


def _t(slug: str, name: str, family: str, *synonyms: str) -> Term:
    return Term(slug=slug, name=name, synonyms=synonyms, family=family)


INSTRUMENTS: tuple[Term, ...] = (
    # keys
    _t(
        "piano",
        "Piano",
        "keys",
        "pianoforte",
        "piano forte",
        "acoustic piano",
        "grand piano",
        "upright piano",
        "klavier",
    ),
    _t(
        "keyboard",
        "Keyboard",
        "keys",
        "keys",
        "keyboards",
        "electric piano",
        "digital piano",
        "e-piano",
        "teclado",
        "tastiera",
    ),
    _t("organ", "Organ", "keys", "church organ", "pipe organ", "hammond organ", "orgel", "órgano"),
    _t("harpsichord", "Harpsichord", "keys", "cembalo", "clavecin", "clavicembalo"),
    _t("accordion", "Accordion", "keys", "akkordeon", "acordeón", "fisarmonica", "squeezebox"),
    _t("bandoneon", "Bandoneón", "keys", "bandonion"),
    # strings
    _t(
        "acoustic-guitar",
        "Acoustic Guitar",
        "strings",
        "guitar",
        "steel-string guitar",
        "guitarra",
        "gitarre",
        "guitare",
        "chitarra",
        "gitaar",
    ),
    _t(
        "electric-guitar",
        "Electric Guitar",
        "strings",
        "e-guitar",
        "e-gitarre",
        "lead guitar",
        "rhythm guitar",
        "guitarra eléctrica",
        "guitare électrique",
        "chitarra elettrica",
    ),
    _t(
        "classical-guitar",
        "Classical Guitar",
        "strings",
        "spanish guitar",
        "nylon-string guitar",
        "flamenco guitar",
        "guitarra clásica",
        "guitarra española",
        "konzertgitarre",
        "chitarra classica",
        "guitare classique",
        "violão",
    ),
    _t("portuguese-guitar", "Portuguese Guitar", "strings", "guitarra portuguesa", "fado guitar"),
    _t(
        "bass-guitar",
        "Bass Guitar",
        "strings",
        "bass",
        "electric bass",
        "e-bass",
        "bassgitarre",
        "bajo",
        "bajo eléctrico",
        "baixo",
        "basso elettrico",
    ),
    _t(
        "double-bass",
        "Double Bass",
        "strings",
        "upright bass",
        "contrabass",
        "string bass",
        "acoustic bass",
        "kontrabass",
        "contrabajo",
        "contrebasse",
        "contrabbasso",
    ),
    _t("ukulele", "Ukulele", "strings", "uke", "ukelele"),
    _t(
        "violin",
        "Violin",
        "strings",
        "fiddle",
        "geige",
        "violine",
        "violín",
        "violon",
        "violino",
        "viool",
    ),
    _t("viola", "Viola", "strings", "bratsche", "alto viola"),
    _t("cello", "Cello", "strings", "violoncello", "violonchelo", "violoncelle", "chelo"),
    _t(
        "viola-da-gamba",
        "Viola da Gamba",
        "strings",
        "gamba",
        "viol",
        "bass viol",
        "gambe",
    ),
    _t("harp", "Harp", "strings", "harfe", "arpa", "harpe", "celtic harp", "pedal harp"),
    _t("lute", "Lute", "strings", "laute", "theorbo", "baroque lute", "laúd"),
    _t("mandolin", "Mandolin", "strings", "mandoline", "mandolina", "mandolino"),
    _t("banjo", "Banjo", "strings", "five-string banjo", "tenor banjo", "clawhammer banjo"),
    _t("cavaquinho", "Cavaquinho", "strings", "cavaco", "braguinha"),
    _t("sitar", "Sitar", "strings", "sitaar"),
    _t("oud", "Oud", "strings", "ud", "arabic lute"),
    _t("bouzouki", "Bouzouki", "strings", "buzuki", "greek bouzouki", "irish bouzouki"),
    _t("erhu", "Erhu", "strings", "er hu", "chinese violin", "nanhu"),
    _t("guzheng", "Guzheng", "strings", "zheng", "gu zheng", "chinese zither"),
    _t("koto", "Koto", "strings", "japanese zither"),
    # winds
    _t(
        "flute",
        "Flute",
        "winds",
        "flauta",
        "flûte",
        "flöte",
        "querflöte",
        "flauto",
        "transverse flute",
        "concert flute",
    ),
    _t(
        "recorder",
        "Recorder",
        "winds",
        "blockflöte",
        "flauta dulce",
        "flauta doce",
        "flûte à bec",
    ),
    _t("tin-whistle", "Tin Whistle", "winds", "penny whistle", "irish whistle", "feadóg"),
    _t("bansuri", "Bansuri", "winds", "indian flute", "bamboo flute"),
    _t(
        "clarinet",
        "Clarinet",
        "winds",
        "klarinette",
        "clarinete",
        "clarinetto",
        "clarinette",
        "bass clarinet",
    ),
    _t("oboe", "Oboe", "winds", "oboé", "hautbois", "cor anglais", "english horn"),
    _t(
        "bassoon",
        "Bassoon",
        "winds",
        "fagott",
        "fagot",
        "fagote",
        "fagotto",
        "basson",
        "contrabassoon",
    ),
    _t(
        "saxophone",
        "Saxophone",
        "winds",
        "sax",
        "saxofón",
        "saxofone",
        "saxophon",
        "alto sax",
        "tenor sax",
        "soprano sax",
        "baritone sax",
        "alto saxophone",
        "tenor saxophone",
    ),
    _t("harmonica", "Harmonica", "winds", "mouth organ", "blues harp", "mundharmonika", "armónica"),
    _t(
        "bagpipes",
        "Bagpipes",
        "winds",
        "bagpipe",
        "highland bagpipes",
        "uilleann pipes",
        "dudelsack",
        "gaita",
    ),
    # brass
    _t(
        "trumpet",
        "Trumpet",
        "brass",
        "trompete",
        "trompeta",
        "trompette",
        "tromba",
        "cornet",
        "flugelhorn",
    ),
    _t("trombone", "Trombone", "brass", "posaune", "trombón", "bass trombone"),
    _t("french-horn", "French Horn", "brass", "horn", "waldhorn", "corno", "cor", "trompa"),
    _t("euphonium", "Euphonium", "brass", "baritone horn", "tenor tuba"),
    _t("tuba", "Tuba", "brass", "sousaphone", "bass tuba"),
    # percussion
    _t(
        "drums",
        "Drums",
        "percussion",
        "drum kit",
        "drumkit",
        "drumset",
        "drum set",
        "batería",
        "bateria",
        "schlagzeug",
        "batterie",
        "batteria",
    ),
    _t(
        "percussion",
        "Percussion",
        "percussion",
        "orchestral percussion",
        "hand percussion",
        "percusión",
        "percussão",
        "schlagwerk",
        "timpani",
        "marimba",
        "xylophone",
    ),
    _t("vibraphone", "Vibraphone", "percussion", "vibes", "vibraharp"),
    _t(
        "latin-percussion",
        "Latin Percussion",
        "percussion",
        "congas",
        "conga",
        "bongos",
        "timbales",
        "percusión latina",
    ),
    _t("cajon", "Cajón", "percussion", "cajon peruano", "box drum"),
    _t("djembe", "Djembe", "percussion", "djembé", "jembe"),
    _t("tabla", "Tabla", "percussion", "tablas"),
    _t("steel-pan", "Steel Pan", "percussion", "steelpan", "steel drum", "steel drums"),
    # voice
    _t(
        "voice",
        "Singing",
        "voice",
        "voice",
        "vocals",
        "vocal",
        "singer",
        "vocal coaching",
        "voice lessons",
        "gesang",
        "canto",
        "chant",
        "singen",
    ),
    # electronic
    _t(
        "music-production",
        "Music Production",
        "electronic",
        "production",
        "producing",
        "beat making",
        "beatmaking",
        "mixing",
        "mastering",
        "ableton",
        "logic pro",
        "daw",
    ),
    _t("dj", "DJing", "electronic", "deejay", "turntablism", "turntables"),
    _t("synthesizer", "Synthesizer", "electronic", "synth", "synths", "modular synth"),
    # theory
    _t(
        "music-theory",
        "Music Theory",
        "theory",
        "theory",
        "harmony",
        "ear training",
        "aural skills",
        "solfège",
        "solfeggio",
        "sight reading",
        "musiktheorie",
        "teoría musical",
    ),
    _t(
        "composition",
        "Composition",
        "theory",
        "composing",
        "orchestration",
        "arranging",
        "komposition",
        "composición",
    ),
    _t("songwriting", "Songwriting", "theory", "song writing", "lyric writing", "lyrics"),
    _t(
        "conducting",
        "Conducting",
        "theory",
        "dirigieren",
        "choral conducting",
        "orchestral conducting",
    ),
)

GENRES: tuple[Term, ...] = (
    # classical
    _t(
        "classical",
        "Classical",
        "classical",
        "classical music",
        "western classical",
        "klassik",
        "música clásica",
        "musique classique",
        "musica classica",
    ),
    _t("baroque", "Baroque", "classical", "baroque music", "barock", "barroco", "barocco"),
    _t(
        "early-music",
        "Early Music",
        "classical",
        "renaissance",
        "medieval music",
        "historically informed performance",
        "alte musik",
    ),
    _t(
        "contemporary-classical",
        "Contemporary Classical",
        "classical",
        "new music",
        "modern classical",
        "avant-garde",
        "neue musik",
    ),
    _t("opera", "Opera", "classical", "art song", "lieder", "bel canto", "oratorio", "ópera"),
    _t(
        "choral",
        "Choral",
        "classical",
        "choir",
        "chorus",
        "choral music",
        "a cappella",
        "chor",
        "coro",
    ),
    # jazz
    _t(
        "jazz",
        "Jazz",
        "jazz",
        "jazz standards",
        "bebop",
        "swing",
        "big band",
        "jazz fusion",
        "smooth jazz",
    ),
    _t("blues", "Blues", "jazz", "delta blues", "chicago blues", "blues rock"),
    # popular
    _t(
        "rock",
        "Rock",
        "popular",
        "rock and roll",
        "rock 'n' roll",
        "rock n roll",
        "classic rock",
        "indie",
        "indie rock",
        "alternative",
        "punk",
        "grunge",
        "prog rock",
    ),
    _t("pop", "Pop", "popular", "pop music", "top 40", "chart music"),
    _t(
        "metal",
        "Metal",
        "popular",
        "heavy metal",
        "thrash",
        "death metal",
        "metalcore",
        "prog metal",
    ),
    _t("funk", "Funk", "popular", "funky", "disco"),
    _t("soul", "Soul", "popular", "motown", "neo soul", "neo-soul"),
    _t(
        "r-and-b",
        "R&B",
        "popular",
        "rnb",
        "r'n'b",
        "r and b",
        "rhythm and blues",
        "contemporary r&b",
    ),
    _t("hip-hop", "Hip-Hop", "popular", "hip hop", "hiphop", "rap", "trap", "boom bap"),
    _t(
        "electronic",
        "Electronic",
        "popular",
        "edm",
        "electronic music",
        "electronica",
        "techno",
        "house",
        "drum and bass",
        "dnb",
        "dubstep",
        "ambient",
        "trance",
    ),
    _t("country", "Country", "popular", "country music", "americana", "country and western"),
    _t(
        "gospel",
        "Gospel",
        "popular",
        "worship",
        "praise and worship",
        "church music",
        "contemporary christian",
        "spirituals",
    ),
    _t(
        "musical-theatre",
        "Musical Theatre",
        "popular",
        "musical theater",
        "musicals",
        "broadway",
        "west end",
        "show tunes",
        "showtunes",
    ),
    _t(
        "film-music",
        "Film & Game Music",
        "popular",
        "film music",
        "film scoring",
        "film score",
        "soundtracks",
        "movie music",
        "game music",
        "video game music",
    ),
    _t("k-pop", "K-Pop", "popular", "kpop", "k pop", "korean pop"),
    _t("reggae", "Reggae", "popular", "ska", "dub", "dancehall", "rocksteady"),
    # world / traditional
    _t(
        "folk",
        "Folk",
        "world",
        "folk music",
        "singer-songwriter",
        "acoustic folk",
        "volksmusik",
    ),
    _t("bluegrass", "Bluegrass", "world", "old-time", "old time", "newgrass"),
    _t(
        "celtic",
        "Celtic",
        "world",
        "irish traditional",
        "irish trad",
        "irish folk",
        "scottish traditional",
        "celtic folk",
        "trad",
    ),
    _t(
        "latin",
        "Latin",
        "world",
        "latin music",
        "música latina",
        "salsa",
        "cumbia",
        "bachata",
        "merengue",
        "reggaeton",
        "son cubano",
        "latin jazz",
    ),
    _t("bossa-nova", "Bossa Nova", "world", "bossa", "bossanova", "mpb"),
    _t("samba", "Samba", "world", "pagode", "samba de roda", "batucada", "choro"),
    _t("tango", "Tango", "world", "argentine tango", "tango argentino", "milonga"),
    _t("flamenco", "Flamenco", "world", "cante jondo", "rumba flamenca", "sevillanas"),
    _t("fado", "Fado", "world", "fado de lisboa", "fado de coimbra"),
    _t(
        "indian-classical",
        "Indian Classical",
        "world",
        "hindustani",
        "hindustani classical",
        "carnatic",
        "carnatic music",
        "raga",
        "indian classical music",
    ),
    _t(
        "middle-eastern",
        "Middle Eastern",
        "world",
        "arabic music",
        "arabic",
        "maqam",
        "makam",
        "turkish music",
        "persian classical",
    ),
    _t("rebetiko", "Rebetiko", "world", "rebetika", "rembetiko", "laiko", "greek folk"),
    _t("klezmer", "Klezmer", "world", "jewish folk", "yiddish music"),
    _t("afrobeat", "Afrobeat", "world", "afrobeats", "afro beat", "highlife", "afropop"),
    _t(
        "chinese-traditional",
        "Chinese Traditional",
        "world",
        "guoyue",
        "chinese folk",
        "chinese music",
    ),
    _t(
        "japanese-traditional",
        "Japanese Traditional",
        "world",
        "hogaku",
        "minyo",
        "japanese folk",
    ),
    _t("world", "World Music", "world", "world fusion", "global music", "ethnic music"),
)

# Order matters: callers present levels as a scale and treat ranges as contiguous.
LEVELS: tuple[Term, ...] = (
    _t(
        "beginner",
        "Beginner",
        "",
        "novice",
        "starter",
        "absolute beginner",
        "anfänger",
        "principiante",
    ),
    _t(
        "intermediate", "Intermediate", "", "improver", "mittelstufe", "intermedio", "intermédiaire"
    ),
    _t("advanced", "Advanced", "", "fortgeschritten", "avanzado", "avancé", "avançado"),
    _t(
        "professional",
        "Professional",
        "",
        "pro",
        "conservatory",
        "audition preparation",
        "profesional",
    ),
)

FORMATS: tuple[Term, ...] = (
    _t("online", "Online", "", "remote", "video call", "webcam", "zoom", "skype"),
    _t("studio", "At the tutor's studio", "", "teacher's studio", "tutor's place", "in studio"),
    _t(
        "student_home",
        "At the student's home",
        "",
        "home visits",
        "at home",
        "at my home",
        "mobile teacher",
    ),
)

# ISO 639-1 code -> English name. Living languages a tutor might plausibly teach in.
LANGUAGES: dict[str, str] = {
    "af": "Afrikaans",
    "am": "Amharic",
    "ar": "Arabic",
    "az": "Azerbaijani",
    "be": "Belarusian",
    "bg": "Bulgarian",
    "bn": "Bengali",
    "br": "Breton",
    "bs": "Bosnian",
    "ca": "Catalan",
    "cs": "Czech",
    "cy": "Welsh",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "et": "Estonian",
    "eu": "Basque",
    "fa": "Persian",
    "fi": "Finnish",
    "fo": "Faroese",
    "fr": "French",
    "fy": "Western Frisian",
    "ga": "Irish",
    "gd": "Scottish Gaelic",
    "gl": "Galician",
    "gu": "Gujarati",
    "ha": "Hausa",
    "he": "Hebrew",
    "hi": "Hindi",
    "hr": "Croatian",
    "ht": "Haitian Creole",
    "hu": "Hungarian",
    "hy": "Armenian",
    "id": "Indonesian",
    "ig": "Igbo",
    "is": "Icelandic",
    "it": "Italian",
    "ja": "Japanese",
    "jv": "Javanese",
    "ka": "Georgian",
    "kk": "Kazakh",
    "km": "Khmer",
    "kn": "Kannada",
    "ko": "Korean",
    "ku": "Kurdish",
    "ky": "Kyrgyz",
    "lb": "Luxembourgish",
    "ln": "Lingala",
    "lo": "Lao",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "mg": "Malagasy",
    "mi": "Māori",
    "mk": "Macedonian",
    "ml": "Malayalam",
    "mn": "Mongolian",
    "mr": "Marathi",
    "ms": "Malay",
    "mt": "Maltese",
    "my": "Burmese",
    "ne": "Nepali",
    "nl": "Dutch",
    "no": "Norwegian",
    "oc": "Occitan",
    "om": "Oromo",
    "pa": "Punjabi",
    "pl": "Polish",
    "ps": "Pashto",
    "pt": "Portuguese",
    "qu": "Quechua",
    "ro": "Romanian",
    "ru": "Russian",
    "rw": "Kinyarwanda",
    "si": "Sinhala",
    "sk": "Slovak",
    "sl": "Slovenian",
    "sn": "Shona",
    "so": "Somali",
    "sq": "Albanian",
    "sr": "Serbian",
    "st": "Southern Sotho",
    "sv": "Swedish",
    "sw": "Swahili",
    "ta": "Tamil",
    "te": "Telugu",
    "tg": "Tajik",
    "th": "Thai",
    "ti": "Tigrinya",
    "tl": "Tagalog",
    "tn": "Tswana",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "ur": "Urdu",
    "uz": "Uzbek",
    "vi": "Vietnamese",
    "xh": "Xhosa",
    "yi": "Yiddish",
    "yo": "Yoruba",
    "zh": "Chinese",
    "zu": "Zulu",
}

# Autonyms, so a Portuguese student recognises "Português" in a language filter.
LANGUAGE_NATIVE_NAMES: dict[str, str] = {
    "af": "Afrikaans",
    "am": "አማርኛ",
    "ar": "العربية",
    "az": "Azərbaycan dili",
    "be": "Беларуская",
    "bg": "Български",
    "bn": "বাংলা",
    "br": "Brezhoneg",
    "bs": "Bosanski",
    "ca": "Català",
    "cs": "Čeština",
    "cy": "Cymraeg",
    "da": "Dansk",
    "de": "Deutsch",
    "el": "Ελληνικά",
    "en": "English",
    "es": "Español",
    "et": "Eesti",
    "eu": "Euskara",
    "fa": "فارسی",
    "fi": "Suomi",
    "fo": "Føroyskt",
    "fr": "Français",
    "fy": "Frysk",
    "ga": "Gaeilge",
    "gd": "Gàidhlig",
    "gl": "Galego",
    "gu": "ગુજરાતી",
    "ha": "Hausa",
    "he": "עברית",
    "hi": "हिन्दी",
    "hr": "Hrvatski",
    "ht": "Kreyòl ayisyen",
    "hu": "Magyar",
    "hy": "Հայերեն",
    "id": "Bahasa Indonesia",
    "ig": "Asụsụ Igbo",
    "is": "Íslenska",
    "it": "Italiano",
    "ja": "日本語",
    "jv": "Basa Jawa",
    "ka": "ქართული",
    "kk": "Қазақ тілі",
    "km": "ភាសាខ្មែរ",
    "kn": "ಕನ್ನಡ",
    "ko": "한국어",
    "ku": "Kurdî",
    "ky": "Кыргызча",
    "lb": "Lëtzebuergesch",
    "ln": "Lingála",
    "lo": "ພາສາລາວ",
    "lt": "Lietuvių",
    "lv": "Latviešu",
    "mg": "Malagasy",
    "mi": "Te reo Māori",
    "mk": "Македонски",
    "ml": "മലയാളം",
    "mn": "Монгол",
    "mr": "मराठी",
    "ms": "Bahasa Melayu",
    "mt": "Malti",
    "my": "မြန်မာဘာသာ",
    "ne": "नेपाली",
    "nl": "Nederlands",
    "no": "Norsk",
    "oc": "Occitan",
    "om": "Afaan Oromoo",
    "pa": "ਪੰਜਾਬੀ",
    "pl": "Polski",
    "ps": "پښتو",
    "pt": "Português",
    "qu": "Runa Simi",
    "ro": "Română",
    "ru": "Русский",
    "rw": "Ikinyarwanda",
    "si": "සිංහල",
    "sk": "Slovenčina",
    "sl": "Slovenščina",
    "sn": "ChiShona",
    "so": "Soomaali",
    "sq": "Shqip",
    "sr": "Српски",
    "st": "Sesotho",
    "sv": "Svenska",
    "sw": "Kiswahili",
    "ta": "தமிழ்",
    "te": "తెలుగు",
    "tg": "Тоҷикӣ",
    "th": "ไทย",
    "ti": "ትግርኛ",
    "tl": "Tagalog",
    "tn": "Setswana",
    "tr": "Türkçe",
    "uk": "Українська",
    "ur": "اردو",
    "uz": "Oʻzbekcha",
    "vi": "Tiếng Việt",
    "xh": "isiXhosa",
    "yi": "ייִדיש",
    "yo": "Yorùbá",
    "zh": "中文",
    "zu": "isiZulu",
}


def _by_slug(terms: Iterable[Term]) -> dict[str, Term]:
    return {term.slug: term for term in terms}


def _by_key(terms: Iterable[Term]) -> dict[str, Term]:
    """Map every normalised slug, name and synonym to its term.

    Raises at import if two terms claim the same key: an ambiguous synonym would
    silently send students to the wrong instrument, so it must never ship.
    """
    index: dict[str, Term] = {}
    for term in terms:
        for label in (term.slug, term.name, *term.synonyms):
            key = normalize_key(label)
            owner = index.setdefault(key, term)
            if owner is not term:
                raise ValueError(f"{label!r} is claimed by both {owner.slug} and {term.slug}")
    return index


_INSTRUMENTS_BY_SLUG = _by_slug(INSTRUMENTS)
_GENRES_BY_SLUG = _by_slug(GENRES)
_LEVELS_BY_SLUG = _by_slug(LEVELS)
_FORMATS_BY_SLUG = _by_slug(FORMATS)
_INSTRUMENTS_BY_KEY = _by_key(INSTRUMENTS)
_GENRES_BY_KEY = _by_key(GENRES)


def instrument(slug: str) -> Term | None:
    """The instrument with exactly this slug."""
    return _INSTRUMENTS_BY_SLUG.get(slug)


def genre(slug: str) -> Term | None:
    """The genre with exactly this slug."""
    return _GENRES_BY_SLUG.get(slug)


def level(slug: str) -> Term | None:
    """The level with exactly this slug."""
    return _LEVELS_BY_SLUG.get(slug)


def lesson_format(slug: str) -> Term | None:
    """The lesson format with exactly this slug ("online", "studio", "student_home")."""
    return _FORMATS_BY_SLUG.get(slug)


# Alias kept for callers that prefer the shorter name (``format`` is a builtin).
format_ = lesson_format


def language_name(code: str) -> str | None:
    """English name of an ISO 639-1 language code, or None if not curated."""
    return LANGUAGES.get(code.lower())


def language_native_name(code: str) -> str | None:
    """Native name (autonym) of an ISO 639-1 language code, or None if not curated."""
    return LANGUAGE_NATIVE_NAMES.get(code.lower())


def _resolve(index: Mapping[str, Term], text: str) -> Term | None:
    key = normalize_key(text)
    return index.get(key) if key else None


def resolve_instrument(text: str) -> Term | None:
    """Match free text ("Sax", "Guitarra Clásica", "drum-kit") to an instrument."""
    return _resolve(_INSTRUMENTS_BY_KEY, text)


def resolve_genre(text: str) -> Term | None:
    """Match free text ("hip hop", "R&B", "show tunes") to a genre."""
    return _resolve(_GENRES_BY_KEY, text)


def synonym_groups(terms: Iterable[Term]) -> list[list[str]]:
    """``[name, *synonyms]`` per term, lowercased, for a search engine's synonym list."""
    return [[term.name.lower(), *(s.lower() for s in term.synonyms)] for term in terms]
