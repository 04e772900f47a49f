"""Language identification: uncovered languages are flagged, CAD shorthand and Spanish are read."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from triage.policy.language import MAX_CHARS, LanguageReading, identify

from tests.unit.triage.helpers import read_jsonl

# Lines in languages the policy does not cover (``tests/data/uncovered_language.jsonl``), by the
# language they are written in. Those only the wide check catches (Latin-script languages that are
# not candidates) need the policy's words and are tested with the engine.
UNCOVERED: dict[str, list[str]] = {}
for _line in read_jsonl("uncovered_language.jsonl"):
    if _line["detector"] != "wide":
        UNCOVERED.setdefault(_line["language"], []).append(_line["narrative"])

ENGLISH_CAD = [
    "RP ADV SUBJ W/ KNIFE",
    "PHYS ALTERC IN PROG, NEG WEPS",
    "25-B-3-V",
    "LSH NB TWD PARK",
    "ETOH MALE",
    "10-96",
    "SUBJ AGGR YELLING AT PASSERSBY, UNK WEPS",
    "MALE HALF CLOTHED IN ROADWAY, POSS 5150",
    "CALLER STS SON OFF MEDS, HEARING VOICES, NO WEPS SEEN",
    "2 VEH TC W/ INJ, 1 PT UNCON, FD ENRT",
    "FEM SUBJ ON BRIDGE RAILING THREATENING TO JUMP",
    "RP REQ WELFARE CHK ON ELDERLY NEIGHBOR, NO ANSWER AT DOOR",
    "DOM DIST, SUSP LEFT ON FOOT, WMA 30S BLK HOODIE",
    "OD UNRESP, NARCAN GIVEN X2, CPR IN PROG",
    "SUBJ BRANDISHING HANDGUN OUTSIDE 7-11, SHOTS FIRED",
    "CODE 3 RESP, 17-D-4, PT FELL FROM LADDER",
    "ALS REQ, CP W/ SOB, 72 YOM, HX CARDIAC",
    "TRESPASS SUBJ REFUSING TO LEAVE LOBBY, ADV PREV 10-15",
    "SUICIDAL SUBJ BARRICADED IN BATHROOM W/ RAZOR",
    "UNK PROB, 3RD PTY CALLER, OPEN LINE, SCREAMING HEARD",
    "MVA W/ ENTRAPMENT",
    "BOLO GRY SEDAN",
    "NFD",
    "SUBJ IS NOW GOA",
    "ASSAULT W/ DW, SUSP FLED EB ON PINE ST",
    "SUBJ W/ AK, GEN AREA OF PARK",
    "26-A-1 SICK PERSON, 09E01",
]

ENGLISH = [
    "My brother hasn't slept in three days and keeps saying people are watching him through the TV.",
    "There's a man in the parking lot swinging a bat at cars and yelling at people.",
    "She took a whole bottle of pills about an hour ago and now she won't wake up.",
    "help",
    "rp sts bf hit her w/ bat",
]

SPANISH = [
    "Mi hermano está escuchando voces y no quiere salir de su cuarto.",
    "Hay un señor tirado en la calle, creo que no respira.",
    "El vecino anda con una pistola en la mano gritando en la calle.",
    # Informal, unaccented
    "mi esposo esta tomando mucho y me amenazo con un cuchillo",
    "ayuda porfa mi hijo se quiere matar esta en el techo",
    "una señora se cayo en la tienda y no se puede levantar",
    "oiga mi vecino tiene una pistola y esta borracho",
    "el subj tiene un cuchillo y esta amenazando a la familia",
    "tiene un cuchillo",
    # CAD capitals
    "SUJETO EBRIO INCONSCIENTE EN LA BANCA DEL PARQUE",
    "MUJER GRITANDO EN EL PASILLO, POSIBLE PELEA DOMESTICA",
    "SE CAYO DE LA ESCALERA, NO RESPONDE",
]

CODE_SWITCHED = [
    "mi hermano is hearing voices y tiene un knife",
    "my mom se cayó en el baño and she can't get up",
    "el guy de al lado is screaming que lo van a matar",
    "hay un man with a gun en la esquina de la tienda",
    "my brother está bien drunk y está threatening con golpear a mi papá",
    "Mi primo took a bunch of pills y no se despierta, he's breathing pero muy lento",
    # Tagalog and English, mostly English: most words can be read.
    "my son is saying na gusto niya mamatay, he is on the roof and he has a knife",
]

NOTHING_TO_READ = [
    "",
    "   \n\t ",
    "😡😡😡🔪🔪",
    "👮\u200d♂️🚑🚒 !!!",
    "5551234 911 911",
    "!!! ??? ...",
    "$500, 12:45",
]

COVERED = frozenset({"en", "es"})


@pytest.mark.parametrize(
    ("code", "text"), [(code, text) for code, texts in UNCOVERED.items() for text in texts]
)
def test_uncovered_language_is_flagged_with_its_code(code: str, text: str) -> None:
    reading = identify(text)
    assert reading.language == code
    assert not reading.covered
    assert reading.readable_share < 0.5


@pytest.mark.parametrize("text", ENGLISH_CAD)
def test_cad_shorthand_reads_as_covered_english(text: str) -> None:
    assert identify(text) == LanguageReading("en", True, 1.0)


@pytest.mark.parametrize("text", ENGLISH)
def test_english_is_covered(text: str) -> None:
    assert identify(text) == LanguageReading("en", True, 1.0)


@pytest.mark.parametrize("text", SPANISH)
def test_spanish_is_covered_as_spanish(text: str) -> None:
    assert identify(text) == LanguageReading("es", True, 1.0)


@pytest.mark.parametrize("text", CODE_SWITCHED)
def test_code_switched_text_is_covered(text: str) -> None:
    reading = identify(text)
    assert reading.covered
    assert reading.language in COVERED
    assert reading.readable_share > 0.5


@pytest.mark.parametrize("text", NOTHING_TO_READ)
def test_text_without_words_is_undetermined(text: str) -> None:
    assert identify(text) == LanguageReading("und", False, 0.0)


def test_mostly_emoji_is_flagged_but_a_few_are_not() -> None:
    mostly = identify("help 😡😡 🔪 🔪 🔪")
    assert (mostly.language, mostly.covered) == ("en", False)
    assert mostly.readable_share == pytest.approx(1 / 5)
    few = identify("he has a 🔪 help")
    assert few.covered
    assert few.readable_share == pytest.approx(4 / 5)


def test_text_mostly_in_another_script_is_flagged() -> None:
    russian = identify("RP STS Мой сосед угрожает мне ножом пожалуйста")
    assert (russian.language, russian.covered) == ("ru", False)
    assert russian.readable_share == pytest.approx(2 / 8)
    # Han is written without spaces: each character counts as a word.
    chinese = identify("RP STS 我的邻居拿着刀")
    assert (chinese.language, chinese.covered) == ("zh", False)
    assert chinese.readable_share == pytest.approx(2 / 9)


def test_a_script_lingua_does_not_know_is_flagged_as_undetermined() -> None:
    amharic = "ጎረቤቴ በቢላ እያስፈራራኝ ነው፣ እባካችሁ ቶሎ ኑ"
    assert identify(amharic) == LanguageReading("und", False, 0.0)
    assert not identify("RP STS " + amharic).covered


def test_a_foreign_word_quoted_in_english_does_not_flag_it() -> None:
    reading = identify("Caller says her neighbor keeps yelling 'сука' at her kids and has a bat")
    assert (reading.language, reading.covered) == ("en", True)
    assert reading.readable_share == pytest.approx(13 / 14)


def test_covered_languages_are_a_parameter() -> None:
    vietnamese = UNCOVERED["vi"][0]
    assert identify(vietnamese, covered=frozenset({"en", "es", "vi"})) == LanguageReading("vi", True, 1.0)
    assert not identify(ENGLISH[0], covered=frozenset({"es"})).covered
    assert not identify("RP ADV SUBJ W/ KNIFE", covered=frozenset({"es"})).covered
    assert identify(UNCOVERED["ht"][0], covered=frozenset({"en", "ht"})).covered


def test_only_the_first_max_chars_are_read() -> None:
    english = "He is yelling at the neighbors and throwing chairs. " * (MAX_CHARS // 20)
    russian = "Мой сосед угрожает мне ножом. " * 200
    assert identify(english + russian) == LanguageReading("en", True, 1.0)
    assert identify(russian + english).language == "ru"


def test_lone_surrogates_are_read_around() -> None:
    assert identify("\ud800 he has a knife \udfff") == LanguageReading("en", True, 1.0)
    assert identify("he has a kni\udfffe and a g\ud800un") == LanguageReading("en", True, 1.0)
    assert identify("\udc80\ud83d") == LanguageReading("und", False, 0.0)


def test_concurrent_calls_agree_with_sequential_ones() -> None:
    texts = [text for texts in UNCOVERED.values() for text in texts] + ENGLISH_CAD + SPANISH
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(identify, texts)) == [identify(text) for text in texts]


# Any code point, surrogates and unassigned ones included, in any order.
ANY_CHARACTER = st.characters(codec=None, exclude_categories=())
SCRIPT_SAMPLES = st.sampled_from(
    [
        "knife",
        "SUBJ",
        "W/",
        "cuchillo",
        "está",
        "người",
        "нож",
        "سكين",
        "칼을",
        "刀",
        "の",
        "🔪",
        "👮\u200d♂️",
        "10-96",
        "25-B-3-V",
        "5150",
        "\ud800",
        "\u200b",
        "\u0301",
        "ﬁ",
        "Ａ",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(ANY_CHARACTER, max_size=300),
        st.tuples(st.sampled_from([" ", "", "/"]), st.lists(SCRIPT_SAMPLES, max_size=40)).map(
            lambda parts: parts[0].join(parts[1])
        ),
    )
)
def test_any_text_gives_a_reading_in_range(text: str) -> None:
    reading = identify(text)
    assert 0.0 <= reading.readable_share <= 1.0
    assert reading.language == "und" or (len(reading.language) == 2 and reading.language.islower())
    if reading.readable_share != 0.5:
        assert reading.covered == (reading.readable_share > 0.5)


@settings(max_examples=20, deadline=None)
@given(st.text(ANY_CHARACTER, min_size=MAX_CHARS * 4, max_size=MAX_CHARS * 8))
def test_long_text_never_raises(text: str) -> None:
    assert 0.0 <= identify(text).readable_share <= 1.0


@pytest.mark.parametrize("text", ["x", "nul", "ok", "hi"])
def test_a_few_lower_case_letters_name_no_language(text: str) -> None:
    reading = identify(text)
    assert reading.language == "und" and reading.covered


def test_the_policys_words_settle_what_the_candidates_misread() -> None:
    from triage.policy import default_policy

    known = default_policy().known_words
    german = "Mein Vater ist umgefallen und atmet nicht mehr"
    assert identify(german).covered  # the candidates alone take it for English
    held = identify(german, COVERED, known)
    assert not held.covered and held.language == "de" and held.readable_share == 0.0
    spanish = "mi tio se desmayo y no respira"
    assert not identify(spanish).covered  # the candidates alone take it for Tagalog
    assert identify(spanish, COVERED, known) == LanguageReading("es", True, 1.0)
    assert identify("RP ADV SUBJ W/ KNIFE IFO RES", COVERED, known) == LanguageReading("en", True, 1.0)


# Run before anything is imported: every way out to the network raises, and each try is counted.
_OFFLINE_PRELUDE = """
import socket

attempts = []

def refuse(*args, **kwargs):
    attempts.append(args)
    raise OSError("network disabled for this test")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.socket.sendto = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
try:
    socket.create_connection(("example.org", 80), timeout=1)
except OSError:
    print("blocked")

from triage.policy.language import identify, load

load()
print(identify("Mi hermano está escuchando voces y dice que se quiere morir").language)
print(identify("Мужчина лежит на улице без сознания и не дышит").language)
print(len(attempts))
"""


def test_the_models_load_and_read_with_no_network() -> None:
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 - this interpreter on a fixed script
        [sys.executable, "-c", _OFFLINE_PRELUDE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-2000:]
    # The guard refused its own probe (one attempt) and nothing else tried to connect.
    assert done.stdout.split() == ["blocked", "es", "ru", "1"]
    assert elapsed < 30, f"loading the models offline took {elapsed:.1f} s"
