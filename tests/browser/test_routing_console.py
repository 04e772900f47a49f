"""The dispatch console in real headless Chromium: a call shows up, goes live, and is moved to resolution;
a call that changes shows why, and a dispatcher accepts a suggestion and overrides the system.

The page runs under its strict Content-Security-Policy, and the browser's console log is read to
check nothing was refused; the stream is opened with a token, and the key never enters a URL.

Drives Debian's chromium through chromium-driver (``deploy/local/browser.sh`` installs both) against
routing running as a real process on the real broker. Most tests hand routing their own triage
revisions as ``CallTriaged`` events on Kafka; the last runs the three services and lets intake and
triage decide: a call posted, a note that escalates it, and a dispatcher's override back.
"""

import asyncio
import json
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, cast
from uuid import UUID, uuid4

import httpx
import pytest
from dispatch_shared.cloudevents import KafkaMessage, encode
from dispatch_shared.events import (
    CallTriaged,
    Indicator,
    IndicatorFamily,
    Location,
    Route,
    ThreatLevel,
    utcnow,
)
from dispatch_shared.kafka import KafkaLink
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import Stack
from tests.e2e.test_call_changes_flow import FIRST, NOTE, post_call, routing_until, units
from tests.e2e.test_call_updates import ledger_until
from tests.factories import decision
from tests.stack import API_KEYS, TEST_KEYS, ServiceProcess, auth

pytestmark = pytest.mark.browser

# How the console names a unit type (its LABELS), for the text a card shows.
LABEL = {"co_response": "Co-response", "police": "Police"}
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_SECONDS = 20


@pytest.fixture
def routing(tmp_path: Path, namespace: str, kafka_bootstrap: str) -> Iterator[ServiceProcess]:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'routing.db'}",
        "KAFKA_NAMESPACE": namespace,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "OUTBOX_POLL_SECONDS": "0.2",
        "API_KEYS": API_KEYS,
    }
    with ServiceProcess("routing", env, tmp_path / "logs" / "routing.log").running() as service:
        yield service


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("chromium and chromium-driver are missing: run deploy/local/browser.sh")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


@pytest.fixture
async def kafka(kafka_bootstrap: str, namespace: str) -> AsyncIterator[KafkaLink]:
    link = KafkaLink(kafka_bootstrap, client_id="browser-test", partitions=3, namespace=namespace)
    link.start()
    assert await link.wait_connected(30)
    yield link
    await link.stop()


async def send_triaged_call(
    kafka: KafkaLink, *, call_id: UUID | None = None, revision: int = 1, **reading: Any
) -> str:
    call_id = call_id or uuid4()
    event = CallTriaged(
        revision=revision,
        call_id=call_id,
        decision=decision(
            **reading,
            priority=2,
            indicators=[
                Indicator(
                    family=IndicatorFamily.BEHAVIORAL,
                    code="suicidal_ideation",
                    text="wants to die",
                    span=(40, 52),
                )
            ],
            explanation="Suicidal ideation with no safety risk: clinician-only team.",
        ),
        location=Location(address="Pike Place Market", lat=47.6097, lon=-122.3422),
        received_at=utcnow(),
        triaged_at=utcnow(),
    )
    message = encode(event, source="/test")
    await kafka.send_batch(
        [KafkaMessage(kafka.topic_name(message.topic), message.key, message.value, message.headers)]
    )
    return str(call_id)


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], Any], what: str) -> Any:
    """What ``condition`` returned once truthy; fails the test naming ``what`` after WAIT_SECONDS."""
    return WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.2).until(
        condition, message=f"never saw {what}"
    )


def click(driver: WebDriver, element_id: str) -> None:
    """Click a button, finding it afresh if a live update replaced it meanwhile."""

    def clicked(d: WebDriver) -> bool:
        d.find_element(By.ID, element_id).click()
        return True

    WebDriverWait(driver, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException,)).until(clicked)


def on_element(driver: WebDriver, element_id: str, act: Callable[[WebElement], object]) -> None:
    """Act on an element, finding it afresh if a live update replaced it meanwhile."""

    def done(d: WebDriver) -> bool:
        act(d.find_element(By.ID, element_id))
        return True

    WebDriverWait(driver, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException,)).until(done)


def text_of(driver: WebDriver, selector: str) -> str:
    """The visible text of the first element matching ``selector``, '' when there is none (yet)."""
    try:
        found = driver.find_elements(By.CSS_SELECTOR, selector)
        return found[0].text if found else ""
    except StaleElementReferenceException:
        return ""


def shown(driver: WebDriver, selector: str) -> bool:
    try:
        return any(element.is_displayed() for element in driver.find_elements(By.CSS_SELECTOR, selector))
    except StaleElementReferenceException:
        return False


def open_console(driver: WebDriver, url: str) -> None:
    driver.get(f"{url}/console")
    driver.find_element(By.ID, "api-key").send_keys(TEST_KEYS["console"])
    driver.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    wait_for(driver, ec.text_to_be_present_in_element((By.ID, "connection"), "Live"), "the stream go live")


async def wait_for_revision(url: str, call_id: str, revision: int) -> None:
    """Until routing has applied ``revision`` of the call (a suggestion publishes no event)."""
    with httpx.Client(base_url=url, timeout=10) as client:
        deadline = time.monotonic() + WAIT_SECONDS
        while client.get(f"/v1/calls/{call_id}", headers=auth("console")).json()["revision"] != revision:
            assert time.monotonic() < deadline, f"never saw revision {revision} applied"
            await asyncio.sleep(0.2)


def card_status(driver: WebDriver, call_id: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f"#call-{call_id} [data-field=status]").text


def requested_urls(driver: WebDriver) -> list[str]:
    """Every URL the page requested so far (from Chromium's performance log)."""
    urls = []
    for entry in cast(webdriver.Chrome, driver).get_log("performance"):  # type: ignore[no-untyped-call]
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def policy_violations(driver: WebDriver) -> list[str]:
    entries = cast(webdriver.Chrome, driver).get_log("browser")  # type: ignore[no-untyped-call]
    return [e["message"] for e in entries if "Content Security Policy" in e["message"]]


async def test_a_dispatcher_follows_a_call_from_queue_to_resolution(
    routing: ServiceProcess, browser: WebDriver, kafka: KafkaLink, tmp_path: Path
) -> None:
    browser.get(f"{routing.url}/console")
    browser.find_element(By.ID, "api-key").send_keys(TEST_KEYS["console"])
    browser.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    wait_for(browser, ec.text_to_be_present_in_element((By.ID, "connection"), "Live"), "the stream go live")

    # A call nobody can serve yet: it waits in the queue, with its indicators and explanation.
    call_id = await send_triaged_call(kafka, language="es")
    queued = wait_for(
        browser,
        ec.presence_of_element_located((By.CSS_SELECTOR, f"#queue #call-{call_id}")),
        "the call queued",
    )
    assert "P2" in queued.text and "Clinician only" in queued.text
    assert "wants to die" in queued.text and "clinician-only team" in queued.text
    assert browser.find_element(By.ID, "queue-count").text == "1"
    # A call in a covered language shows its code and no interpreter flag.
    assert queued.find_element(By.CSS_SELECTOR, "[data-field=language]").text == "ES"
    assert not queued.find_elements(By.CSS_SELECTOR, "[data-field=interpreter]")

    # One triage could not read: the dispatcher sees it needs an interpreter, at a glance.
    unread_id = await send_triaged_call(
        kafka, language="vi", readable_share=0.05, rule="R0_language_not_covered", needs_review=True
    )
    unread = wait_for(
        browser,
        ec.visibility_of_element_located(
            (By.CSS_SELECTOR, f"#queue #call-{unread_id} [data-field=interpreter]")
        ),
        "the interpreter flag on the unread call",
    )
    assert unread.text == "Needs interpreter / review"
    language = browser.find_element(By.CSS_SELECTOR, f"#call-{unread_id} [data-field=language]")
    assert language.text == "VI" and "Vietnamese" in (language.get_attribute("aria-label") or "")
    browser.save_screenshot(str(tmp_path / "console-language.png"))
    with httpx.Client(base_url=routing.url, timeout=10) as client:
        cancelled = client.post(
            f"/v1/calls/{unread_id}/status", json={"status": "cancelled"}, headers=auth("unit")
        )
        assert cancelled.status_code == 200
    wait_for(
        browser, ec.text_to_be_present_in_element((By.ID, "queue-count"), "1"), "the unread call cancelled"
    )

    # A clinician comes on shift; the stream moves the call into its route's column by itself.
    with httpx.Client(base_url=routing.url, timeout=10) as client:
        unit = {
            "unit_id": "CL-7",
            "type": "clinician",
            "name": "Clinician 7",
            "lat": 47.6253,
            "lon": -122.3222,
        }
        assert client.post("/v1/units", json=unit, headers=auth("ops")).status_code == 200
    wait_for(
        browser,
        ec.presence_of_element_located((By.CSS_SELECTOR, f"#route-clinician_only #call-{call_id}")),
        "the call assigned under clinician only",
    )
    wait_for(browser, lambda d: card_status(d, call_id) == "Assigned", "the Assigned status")
    assert "CL-7" in browser.find_element(By.CSS_SELECTOR, f"#call-{call_id} [data-field=unit]").text
    assert browser.find_element(By.CSS_SELECTOR, "#unit-CL-7 [data-field=status]").text == "Dispatched"

    # The dispatcher relays the unit's radio reports.
    click(browser, f"en_route-{call_id}")
    wait_for(browser, lambda d: card_status(d, call_id) == "En route", "the En route status")
    click(browser, f"on_scene-{call_id}")
    wait_for(browser, lambda d: card_status(d, call_id) == "On scene", "the On scene status")
    Select(browser.find_element(By.ID, f"disposition-{call_id}")).select_by_value("referred_to_services")
    browser.save_screenshot(str(tmp_path / "console-on-scene.png"))
    click(browser, f"resolved-{call_id}")

    closed = wait_for(
        browser, ec.presence_of_element_located((By.ID, f"closed-{call_id}")), "the call among the closed"
    )
    assert "Resolved" in closed.text and "Referred to services" in closed.text
    assert not browser.find_elements(By.CSS_SELECTOR, f"#call-{call_id}")
    wait_for(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, "#unit-CL-7 [data-field=status]").text == "Available",
        "the unit available again",
    )
    wait_for(
        browser,
        lambda d: f"call {call_id[:8]} Resolved" in d.find_element(By.ID, "events").text,
        "the resolution among the live events",
    )
    browser.save_screenshot(str(tmp_path / "console-resolved.png"))

    with httpx.Client(base_url=routing.url, timeout=10) as client:
        record = client.get(f"/v1/calls/{call_id}", headers=auth("console")).json()
    assert (record["status"], record["disposition"]) == ("resolved", "referred_to_services")

    assert policy_violations(browser) == []
    urls = requested_urls(browser)
    streams = [url for url in urls if "/v1/stream?" in url]
    assert streams and all("token=" in url for url in streams)
    assert not [url for url in urls if TEST_KEYS["console"] in url]  # the key never entered a URL


async def test_a_revision_shows_added_units_staging_and_a_suggestion(
    routing: ServiceProcess, browser: WebDriver, kafka: KafkaLink, tmp_path: Path
) -> None:
    with httpx.Client(base_url=routing.url, timeout=10) as client:
        units = [
            {"unit_id": "CL-8", "type": "clinician", "name": "Clinician 8", "lat": 47.6253, "lon": -122.3222},
            {"unit_id": "P-8", "type": "police", "name": "Police 8", "lat": 47.6687, "lon": -122.3847},
        ]
        assert client.post("/v1/units", json=units, headers=auth("ops")).status_code == 200
    browser.get(f"{routing.url}/console")
    browser.find_element(By.ID, "api-key").send_keys(TEST_KEYS["console"])
    browser.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    wait_for(browser, ec.text_to_be_present_in_element((By.ID, "connection"), "Live"), "the stream go live")

    call_id = await send_triaged_call(kafka)
    wait_for(
        browser,
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, f"#call-{call_id} [data-field=unit]"), "CL-8"),
        "the clinician assigned",
    )
    # The scene turns dangerous: police go, the clinician team stays and stages.
    await send_triaged_call(
        kafka, call_id=UUID(call_id), revision=2, route=Route.POLICE, threat_level=ThreatLevel.IMMINENT
    )
    wait_for(
        browser,
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, f"#call-{call_id} [data-field=unit]"), "P-8"),
        "the police unit added",
    )
    units_line = browser.find_element(By.CSS_SELECTOR, f"#call-{call_id} [data-field=unit]").text
    assert units_line.startswith("Units: CL-8") and "P-8 (Police" in units_line and "added" in units_line
    assert "stage" in browser.find_element(By.CSS_SELECTOR, f"#call-{call_id} [data-field=staging]").text

    # A later revision asking for less is kept as a suggestion; nobody is taken off the call. It
    # publishes no event, so a console shows it on its next refresh (every 30 s, or a reload).
    await send_triaged_call(
        kafka, call_id=UUID(call_id), revision=3, route=Route.CO_RESPONSE, threat_level=ThreatLevel.HIGH
    )
    with httpx.Client(base_url=routing.url, timeout=10) as client:
        deadline = time.monotonic() + WAIT_SECONDS
        while client.get(f"/v1/calls/{call_id}", headers=auth("console")).json()["revision"] != 3:
            assert time.monotonic() < deadline, "never saw revision 3 applied"
            await asyncio.sleep(0.2)
    browser.refresh()
    suggested = wait_for(
        browser,
        ec.visibility_of_element_located((By.CSS_SELECTOR, f"#call-{call_id} [data-field=suggested]")),
        "the suggested route",
    )
    assert suggested.text.startswith("Suggested: Co-response")
    assert "P-8" in browser.find_element(By.CSS_SELECTOR, f"#call-{call_id} [data-field=unit]").text
    browser.save_screenshot(str(tmp_path / "console-revision.png"))
    assert policy_violations(browser) == []


async def test_a_dispatcher_sees_why_a_call_changed_and_overrides_it(
    routing: ServiceProcess, browser: WebDriver, kafka: KafkaLink, tmp_path: Path
) -> None:
    with httpx.Client(base_url=routing.url, timeout=10) as client:
        units = [
            {"unit_id": "CL-9", "type": "clinician", "name": "Clinician 9", "lat": 47.6253, "lon": -122.3222},
            {"unit_id": "CO-9", "type": "co_response", "name": "Co-response 9", "lat": 47.62, "lon": -122.35},
        ]
        assert client.post("/v1/units", json=units, headers=auth("ops")).status_code == 200
    open_console(browser, routing.url)
    call_id = await send_triaged_call(kafka)
    card = f"#call-{call_id}"
    wait_for(
        browser,
        lambda d: "CL-9" in text_of(d, f"#route-clinician_only {card} [data-field=unit]"),
        "the clinician assigned under clinician only",
    )
    assert not browser.find_elements(By.CSS_SELECTOR, f"{card} [data-field=revisions]")

    # A second revision needs a co-response team: it joins, and the card moves column saying why.
    await send_triaged_call(
        kafka, call_id=UUID(call_id), revision=2, route=Route.CO_RESPONSE, threat_level=ThreatLevel.ELEVATED
    )
    wait_for(
        browser,
        ec.presence_of_element_located((By.CSS_SELECTOR, f"#route-co_response {card}")),
        "the card under co-response",
    )
    assert not browser.find_elements(By.CSS_SELECTOR, f"#route-clinician_only {card}")
    wait_for(
        browser,
        lambda d: (
            "rev 2: escalated to Co-response, CO-9 (Co-response) sent (re_triaged)"
            in text_of(d, f"{card} [data-field=revisions]")
        ),
        "the escalation among the card's changes",
    )
    # An eligible call escalated for safety was not served as triaged: the top bar counts it.
    wait_for(browser, lambda d: text_of(d, "#unserved-count") == "1", "the unserved count in the top bar")
    assert "escalated by safety 1" in text_of(browser, "#unserved-reasons")

    # A third asks for less: only a suggestion. Dismissed, it stays hidden on this console.
    await send_triaged_call(kafka, call_id=UUID(call_id), revision=3)
    await wait_for_revision(routing.url, call_id, 3)
    browser.refresh()
    suggested = wait_for(
        browser,
        ec.visibility_of_element_located((By.CSS_SELECTOR, f"{card} [data-field=suggested]")),
        "the suggested route",
    )
    assert suggested.text.startswith("Suggested: Clinician only by revision 3")
    # After a reload the change is told from what the API keeps: the unit the revision added.
    assert "rev 2: CO-9 (Co-response) added (re_triaged)" in text_of(
        browser, f"{card} [data-field=revisions]"
    )
    click(browser, f"dismiss-{call_id}")
    wait_for(browser, lambda d: not shown(d, f"{card} [data-field=suggested]"), "the suggestion dismissed")
    browser.refresh()
    wait_for(browser, lambda d: "CO-9" in text_of(d, f"{card} [data-field=unit]"), "the card after a reload")
    assert not shown(browser, f"{card} [data-field=suggested]")

    # A fourth suggests it again, and the dispatcher accepts: an override, their judgment.
    await send_triaged_call(kafka, call_id=UUID(call_id), revision=4)
    await wait_for_revision(routing.url, call_id, 4)
    browser.refresh()
    wait_for(
        browser,
        ec.visibility_of_element_located((By.CSS_SELECTOR, f"{card} [data-field=suggested]")),
        "the new suggestion",
    )
    click(browser, f"accept-{call_id}")
    wait_for(
        browser,
        ec.presence_of_element_located((By.CSS_SELECTOR, f"#route-clinician_only {card}")),
        "the card back under clinician only",
    )
    wait_for(
        browser,
        lambda d: (
            "override: Co-response → Clinician only, CO-9 released (dispatcher_judgment) by console"
            in text_of(d, f"{card} [data-field=revisions]")
        ),
        "the accepted suggestion among the card's changes",
    )
    assert not shown(browser, f"{card} [data-field=suggested]")
    # The co-response team the override freed is shown as gone, not as on the call.
    released = browser.find_element(By.CSS_SELECTOR, f"{card} [data-field=unit] [data-released=CO-9]")
    assert released.text.startswith("CO-9 (Co-response) released ")
    assert released.value_of_css_property("text-decoration-line") == "line-through"
    assert text_of(browser, f"{card} [data-field=unit]").startswith("Unit: CL-9 (Clinician)")

    # The override form: police with the clinician kept as primary is refused, in the server's words.
    click(browser, f"override-{call_id}")
    wait_for(browser, lambda d: shown(d, f"#override-form-{call_id}"), "the override form")
    on_element(browser, f"override-route-{call_id}", lambda e: Select(e).select_by_value("police"))
    on_element(browser, f"override-reason-{call_id}", lambda e: Select(e).select_by_value("officer_safety"))
    on_element(browser, f"override-notes-{call_id}", lambda e: e.send_keys("weapon in the house"))
    click(browser, f"override-submit-{call_id}")
    refusal = wait_for(
        browser,
        ec.visibility_of_element_located((By.ID, f"override-error-{call_id}")),
        "the refusal in the form",
    )
    assert "unit_id: the call's clinician unit cannot serve police" in refusal.text
    browser.save_screenshot(str(tmp_path / "console-override-refused.png"))
    # A police unit comes on shift; the dispatcher names it.
    with httpx.Client(base_url=routing.url, timeout=10) as client:
        police = {"unit_id": "P-9", "type": "police", "name": "Police 9", "lat": 47.6687, "lon": -122.3847}
        assert client.post("/v1/units", json=police, headers=auth("ops")).status_code == 200
    on_element(browser, f"override-unit-{call_id}", lambda e: e.send_keys("P-9"))
    click(browser, f"override-submit-{call_id}")
    wait_for(
        browser,
        ec.presence_of_element_located((By.CSS_SELECTOR, f"#route-police {card}")),
        "the card under police",
    )
    wait_for(
        browser,
        lambda d: (
            "override: Clinician only → Police, unit CL-9 → P-9 (officer_safety) by console — "
            "“weapon in the house”" in text_of(d, f"{card} [data-field=revisions]")
        ),
        "the override's reason on the card",
    )
    assert not shown(browser, f"#override-form-{call_id}")
    assert text_of(browser, f"{card} [data-field=unit]").startswith("Unit: P-9")

    # The field asks for backup; no police unit is free, so the call waits for one, flagged.
    with httpx.Client(base_url=routing.url, timeout=10) as client:
        backup = {"status": "backup_requested", "reason": "a second person is armed"}
        asked = client.post(f"/v1/calls/{call_id}/status", json=backup, headers=auth("unit"))
        assert asked.status_code == 200, asked.text
    badge = wait_for(
        browser,
        ec.visibility_of_element_located((By.CSS_SELECTOR, f"{card} [data-field=backup]")),
        "the backup badge",
    )
    assert badge.text == "Backup requested"
    assert "a second person is armed" in (badge.get_attribute("title") or "")
    assert text_of(browser, f"{card} [data-field=awaiting]").startswith(
        "Backup requested: waiting for a Police unit"
    )
    with httpx.Client(base_url=routing.url, timeout=10) as client:
        second = {"unit_id": "P-10", "type": "police", "name": "Police 10", "lat": 47.61, "lon": -122.33}
        assert client.post("/v1/units", json=second, headers=auth("ops")).status_code == 200
    wait_for(
        browser,
        lambda d: (
            "backup: P-10 (Police) sent — “a second person is armed” (backup)"
            in text_of(d, f"{card} [data-field=revisions]")
        ),
        "the backup unit among the card's changes",
    )
    assert "P-10 (Police" in text_of(browser, f"{card} [data-field=unit]")
    assert shown(browser, f"{card} [data-field=backup]")
    assert not browser.find_elements(By.CSS_SELECTOR, f"{card} [data-field=awaiting]")
    # Triage's latest reading stays on the card beside what the dispatcher decided.
    assert "rev 4 (latest): triage reads Clinician only" in text_of(browser, f"{card} [data-field=revisions]")
    browser.save_screenshot(str(tmp_path / "console-override.png"))

    with httpx.Client(base_url=routing.url, timeout=10) as client:
        record = client.get(f"/v1/calls/{call_id}", headers=auth("console")).json()
    assert [o["reason"] for o in record["overrides"]] == ["dispatcher_judgment", "officer_safety"]
    assert policy_violations(browser) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the page does not see the database
def test_a_note_escalates_a_call_through_the_stack_and_a_dispatcher_overrides_it_back(
    stack: Stack, browser: WebDriver, tmp_path: Path
) -> None:
    routing = stack["routing"].url
    with httpx.Client(base_url=routing, timeout=10) as client:
        added = client.post(
            "/v1/units", json=units("B", "clinician", "co_response", "police"), headers=auth("ops")
        )
        assert added.status_code == 200, added.text
    open_console(browser, routing)

    with httpx.Client(base_url=stack["intake"].url, timeout=10) as intake:
        call_id = post_call(intake, FIRST)
        card = f"#call-{call_id}"
        wait_for(
            browser,
            lambda d: "clinician-B" in text_of(d, f"#route-clinician_only {card} [data-field=unit]"),
            "the call under clinician only with the clinician team",
        )

        # The call-taker adds a note: triage reads the whole call again, and routing escalates it.
        noted = intake.post(f"/v1/calls/{call_id}/notes", json={"text": NOTE}, headers=auth("cad"))
        assert noted.status_code == 202, noted.text
        escalated = routing_until(
            stack, call_id, lambda c: c["revision"] == 2 and len(c["units"]) == 2, "rev 2"
        )
        route = escalated["route"]
        assert route in {"co_response", "police"}
        (joined,) = [u["unit_id"] for u in escalated["units"] if u["role"] == "added"]
        wait_for(
            browser,
            ec.presence_of_element_located((By.CSS_SELECTOR, f"#route-{route} {card}")),
            f"the card moved under {route}",
        )
        assert not browser.find_elements(By.CSS_SELECTOR, f"#route-clinician_only {card}")
        assert joined in text_of(browser, f"{card} [data-field=unit]")
        assert "rev 2:" in text_of(browser, f"{card} [data-field=revisions]")
        browser.save_screenshot(str(tmp_path / "console-stack-escalated.png"))

        # The team on scene knows better: the dispatcher overrides back, with a reason.
        click(browser, f"override-{call_id}")
        wait_for(browser, lambda d: shown(d, f"#override-form-{call_id}"), "the override form")
        on_element(
            browser, f"override-route-{call_id}", lambda e: Select(e).select_by_value("clinician_only")
        )
        on_element(
            browser, f"override-reason-{call_id}", lambda e: Select(e).select_by_value("clinician_request")
        )
        on_element(browser, f"override-notes-{call_id}", lambda e: e.send_keys("knife handed over"))
        click(browser, f"override-submit-{call_id}")
        wait_for(
            browser,
            ec.presence_of_element_located((By.CSS_SELECTOR, f"#route-clinician_only {card}")),
            "the card back under clinician only",
        )
        wait_for(
            browser,
            lambda d: (
                f"override: {LABEL[route]} → Clinician only, {joined} released (clinician_request) by console"
                f" — “knife handed over”" in text_of(d, f"{card} [data-field=revisions]")
            ),
            "the override's reason on the card",
        )
        # The unit the escalation added has left the call: shown released, not among those on it.
        released = browser.find_element(
            By.CSS_SELECTOR, f"{card} [data-field=unit] [data-released='{joined}']"
        )
        assert released.text.startswith(f"{joined} ({LABEL[route]}) released ")
        assert text_of(browser, f"{card} [data-field=unit]").startswith("Unit: clinician-B (Clinician)")
        browser.save_screenshot(str(tmp_path / "console-stack-overridden.png"))

        # intake's ledger names the dispatcher's reason on the override step, never their notes.
        record = ledger_until(
            intake,
            call_id,
            lambda r: any(s.get("reason") == "override" for s in r["timeline"]),
            "the override step",
        )
    (step,) = [s for s in record["timeline"] if s.get("reason") == "override"]
    assert step["override_reason"] == "clinician_request"
    assert "knife handed over" not in json.dumps(record)
    assert policy_violations(browser) == []
