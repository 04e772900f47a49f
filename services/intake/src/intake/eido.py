"""NENA EIDO (NENA-STA-021, JSON) in and out of intake: one more way a CAD submits a call.

Receiving (``read_eido``, then ``receive_eido`` in a transaction): an EIDO, or a NENA-STA-024
``notify`` message carrying exactly one in ``event.notification``, becomes the same
``CallSubmission`` the REST path takes, and enters the ledger through ``ledger.submit_call``:

* ``$id`` is the incident: ``cad_incident_id`` is ``eido:`` + ``$id`` (``incident_key``), a
  prefix CAD ids may not use. A later EIDO with the same ``$id`` is a resend: changed notes,
  incident type or location update the call, an unchanged one changes nothing.
* ``call_type`` is the incident type: ``incidentComponent.incidentTypeCommonRegistryText``,
  else its ``incidentTypeInternalText`` (the component may be one object, as the schema has
  it, or a list).
* ``narrative`` is the text of every note (``notesComponent[].notesActionComments``, HTML5 read
  as plain text) in time order (``lastUpdateTimeStamp``; untimed notes last, in document order),
  one per line. Notes attached only to a person (``personComponent[].notesReference``) describe
  that person and are left out; so is everything else in ``personComponent`` (race, ethnicity,
  sex, physical description): none of it reaches triage, the ledger or a log.
* With neither notes nor an incident type the narrative is ``NO_NOTES_NARRATIVE``: it says only
  that nothing was described, so triage decides on nothing and holds the call for review.
* ``location`` is the best location component given by value (PIDF-LO): one the incident
  references, else of type Incident, Caller, then any other but Staging and Destination; a
  ``civicAddress`` becomes the address, a geodetic shape's centre (Point, Circle, Ellipse,
  ArcBand, Sphere, Ellipsoid; a Polygon's mean vertex) the coordinates.
* ``received_at`` is the earliest ``callComponent[].callStartTimestamp``.

Every EIDO that differs from the call's last one is kept as sent (``EidoDocument``) for audit,
until retention clears it with the narrative. Problems are ``EidoInvalid`` listing every one in
FastAPI's ``detail`` shape, with ``loc`` naming the EIDO field (never echoing its value).

Exporting (``export_call``, pure core ``call_as_eido``): the call as an EIDO that validates
against the NENA schema: the incident with its type, triage route, explanation, priority and
status; its location; and, once a unit is assigned, a dispatch component and the unit as an
emergency resource. The narrative is not exported: like the ledger record, the export carries no
call text.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET  # noqa: S405 - parsed only after refusing any DTD, see _pidf_root
from collections.abc import Iterator
from dataclasses import dataclass
from hashlib import sha256
from html.parser import HTMLParser
from typing import Any, Literal
from uuid import UUID, uuid5
from xml.sax.saxutils import escape, quoteattr

from dispatch_shared.events import CallStatus, utcnow
from dispatch_shared.outbox import Outbox
from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from sqlmodel import Session, col, select

from intake import ledger
from intake.models import Call, EidoDocument
from intake.schemas import EIDO_INCIDENT_PREFIX, FROM_EIDO, CallSubmission

__all__ = [
    "NO_NOTES_NARRATIVE",
    "EidoInvalid",
    "ReceivedEido",
    "call_as_eido",
    "export_call",
    "incident_key",
    "read_eido",
    "receive_eido",
]

NO_NOTES_NARRATIVE = "No notes in the EIDO."
EIDO_VERSION = "1.0"
# cad_incident_id's limits (intake.schemas.CadIncidentId).
_KEY_MAX_CHARS = 64
_PRINTABLE = re.compile(r"[\x21-\x7e]+")
# An $id that cannot stand in the key as it is (too long, not printable ASCII, or itself spelled
# like a digest) is named by this and its SHA-256, cut to fit: 5 + 7 + 52 = 64 characters.
_DIGEST = "sha256:"
_DIGEST_CHARS = _KEY_MAX_CHARS - len(EIDO_INCIDENT_PREFIX) - len(_DIGEST)
_ADDRESS_MAX_CHARS = 500

Loc = tuple[str | int, ...]


class EidoInvalid(ValueError):
    """The body is not an EIDO intake can take; ``errors`` lists every problem, FastAPI-style."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the EIDO")
        self.errors = errors


def _error(loc: Loc, msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"type": kind, "loc": ["body", *loc], "msg": msg}


# ---------------------------------------------------------------------------------------------
# The parts of an EIDO intake reads. Anything else is accepted as sent and kept in the document.


class _Component(BaseModel):
    """The prologue every EIDO data component has (both spellings of the timestamp occur)."""

    model_config = ConfigDict(populate_by_name=True)

    id: str | None = Field(default=None, alias="$id")
    updated: AwareDatetime | None = Field(
        default=None, validation_alias=AliasChoices("lastUpdateTimeStamp", "lastUpdateTimestamp")
    )


class _Reference(BaseModel):
    ref: str = Field(alias="$ref")


class _Incident(_Component):
    incidentTypeCommonRegistryText: str | None = None
    incidentTypeInternalText: str | None = None
    locationReference: list[_Reference] = []


class _Note(_Component):
    notesActionComments: str


class _Location(_Component):
    locationTypeDescriptionRegistryText: str | None = None
    locationByValue: str | None = None


class _Call(_Component):
    callStartTimestamp: AwareDatetime | None = None


class _Person(_Component):
    notesReference: list[_Reference] = []


class _Eido(_Component):
    """The required components (NENA-STA-021) and the ones mapped to a call."""

    id: str = Field(alias="$id", min_length=1)
    eidoVersion: Literal["1.0"]
    issuingElementIdentification: str = Field(min_length=1)
    agencyComponent: list[dict[str, Any]] = Field(min_length=1)
    incidentComponent: list[_Incident] = []
    notesComponent: list[_Note] = []
    locationComponent: list[_Location] = []
    callComponent: list[_Call] = []
    personComponent: list[_Person] = []

    @field_validator("incidentComponent", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        # The schema has one incident object; some senders send a list of them.
        return [value] if isinstance(value, dict) else value

    def incidents(self) -> list[_Incident]:
        return self.incidentComponent


# ---------------------------------------------------------------------------------------------
# Receiving


@dataclass(frozen=True)
class ReceivedEido:
    """An EIDO read and mapped: its ``$id``, the call it submits, and the EIDO as JSON for audit."""

    eido_id: str
    submission: CallSubmission
    document: str


def read_eido(body: Any) -> ReceivedEido:
    """Map an EIDO (or a notify message carrying one) to a ``CallSubmission``.

    ``body`` is the decoded JSON. Raises ``EidoInvalid`` listing every missing required part
    (``$id``, ``eidoVersion``, ``issuingElementIdentification``, ``agencyComponent``), every
    malformed mapped part, and any mapped value over the REST path's limits. Pure: no I/O.
    """
    document, prefix = _unwrap(body)
    try:
        eido = _Eido.model_validate(document)
    except ValidationError as exc:
        raise EidoInvalid(_located(exc, prefix, document)) from None
    fields: dict[str, Any] = {
        "cad_incident_id": incident_key(eido.id),
        "call_type": _incident_type(eido),
        "narrative": _narrative(eido, document),
        "location": _location(eido),
        "received_at": min(
            (call.callStartTimestamp for call in eido.callComponent if call.callStartTimestamp),
            default=None,
        ),
    }
    if not fields["narrative"] and not fields["call_type"]:
        fields["narrative"] = NO_NOTES_NARRATIVE
    try:
        submission = CallSubmission.model_validate(fields, context=FROM_EIDO)
    except ValidationError as exc:
        raise EidoInvalid(
            [
                _error(prefix + _SOURCES[str(error["loc"][0])], error["msg"], error["type"])
                for error in exc.errors()
            ]
        ) from None
    return ReceivedEido(
        eido_id=eido.id,
        submission=submission,
        document=json.dumps(document, ensure_ascii=False, separators=(",", ":")),
    )


# Where in an EIDO each submission field comes from, to name it in an error.
_SOURCES: dict[str, Loc] = {
    "cad_incident_id": ("$id",),
    "call_type": ("incidentComponent", "incidentTypeCommonRegistryText"),
    "narrative": ("notesComponent",),
    "location": ("locationComponent",),
    "received_at": ("callComponent", "callStartTimestamp"),
}


def _unwrap(body: Any) -> tuple[dict[str, Any], Loc]:
    """The EIDO in ``body`` and where it sits: the body itself, or a notify's only notification."""
    if not isinstance(body, dict):
        raise EidoInvalid([_error((), "an EIDO is a JSON object", "dict_type")])
    if "event" not in body or "eidoVersion" in body:
        return body, ()
    event = body["event"]
    notifications = event.get("notification") if isinstance(event, dict) else None
    where: Loc = ("event", "notification")
    if not isinstance(notifications, list) or len(notifications) != 1:
        raise EidoInvalid([_error(where, "a notify message must carry exactly one EIDO in a list")])
    if not isinstance(notifications[0], dict):
        raise EidoInvalid([_error((*where, 0), "an EIDO is a JSON object", "dict_type")])
    return notifications[0], (*where, 0)


def _located(exc: ValidationError, prefix: Loc, document: dict[str, Any]) -> list[dict[str, Any]]:
    """pydantic's errors as FastAPI answers them, without ``input`` (it may be a note's text)."""
    single_incident = isinstance(document.get("incidentComponent"), dict)
    errors = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if single_incident and loc[:2] == ("incidentComponent", 0):
            loc = loc[:1] + loc[2:]  # sent as one object: no index to name
        errors.append(_error(prefix + loc, error["msg"], error["type"]))
    return errors


def incident_key(eido_id: str) -> str:
    """The ``cad_incident_id`` of the incident an EIDO ``$id`` names: ``eido:`` + ``$id``.

    An ``$id`` that does not fit a CAD id as it is (over 59 characters, not printable ASCII, or
    starting ``sha256:``) is named ``eido:sha256:`` + the first 52 hex digits of its SHA-256, so
    every ``$id`` has one key, at most 64 characters, and CAD ids never collide with one.
    """
    if (
        len(EIDO_INCIDENT_PREFIX) + len(eido_id) <= _KEY_MAX_CHARS
        and _PRINTABLE.fullmatch(eido_id)
        and not eido_id.startswith(_DIGEST)
    ):
        return EIDO_INCIDENT_PREFIX + eido_id
    digest = sha256(eido_id.encode("utf-8", "surrogatepass")).hexdigest()
    return EIDO_INCIDENT_PREFIX + _DIGEST + digest[:_DIGEST_CHARS]


def _incident_type(eido: _Eido) -> str | None:
    for incident in eido.incidents():
        for text in (incident.incidentTypeCommonRegistryText, incident.incidentTypeInternalText):
            if text and text.strip():
                return text.strip()
    return None


def _narrative(eido: _Eido, document: dict[str, Any]) -> str:
    """The notes as plain text in time order, one per line, without notes only a person holds."""
    about_people = {ref.ref for person in eido.personComponent for ref in person.notesReference}
    elsewhere = set(_note_references(document, skip="personComponent"))
    kept = [
        note for note in eido.notesComponent if note.id is None or note.id not in about_people - elsewhere
    ]
    # Stable sort: untimed notes after timed ones, each group in document order.
    kept.sort(key=lambda note: (note.updated is None, note.updated.timestamp() if note.updated else 0.0))
    texts = (html_text(note.notesActionComments) for note in kept)
    return "\n".join(text for text in texts if text)


def _note_references(document: dict[str, Any], *, skip: str) -> Iterator[str]:
    """Every ``notesReference`` ``$ref`` in the document's components, except those under ``skip``."""
    for key, value in document.items():
        if key == skip or not key.endswith("Component"):
            continue
        for component in value if isinstance(value, list) else [value]:
            if not isinstance(component, dict):
                continue
            references = component.get("notesReference")
            for reference in references if isinstance(references, list) else []:
                if isinstance(reference, dict) and isinstance(reference.get("$ref"), str):
                    yield reference["$ref"]


class _TextOf(HTMLParser):
    """The readable text of an HTML5 fragment: block elements and ``<br>`` break lines."""

    _BREAKS = frozenset(
        {"br", "p", "div", "li", "tr", "ul", "ol", "table", "blockquote", "pre", "hr"}
        | {f"h{level}" for level in range(1, 7)}
    )
    _HIDDEN = frozenset({"script", "style", "template", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self.hidden += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_text(fragment: str) -> str:
    """Plain text of a note (``notesActionComments`` is HTML5): tags out, entities decoded.

    Line breaks are kept, those of the source too (many CAD systems send plain text, and the
    classifier reads sentence boundaries); runs of spaces within a line become one space and
    blank lines go. Plain text passes through unchanged but for that.
    """
    parser = _TextOf()
    parser.feed(fragment)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


# Location types (NENA location type registry) that are not where the incident is.
_NOT_THE_INCIDENT = frozenset({"staging", "destination"})
_TYPE_RANK = {"incident": 1, "caller": 2}


def _location(eido: _Eido) -> dict[str, Any] | None:
    """The best location given by value, as ``Location`` fields; None when none can be read."""
    referenced = {ref.ref for incident in eido.incidents() for ref in incident.locationReference}

    def rank(component: _Location) -> int:
        if component.id is not None and component.id in referenced:
            return 0
        kind = (component.locationTypeDescriptionRegistryText or "").strip().lower()
        return _TYPE_RANK.get(kind, 3)

    candidates = [
        component
        for component in eido.locationComponent
        if component.locationByValue
        and (component.locationTypeDescriptionRegistryText or "").strip().lower() not in _NOT_THE_INCIDENT
    ]
    for component in sorted(candidates, key=rank):
        assert component.locationByValue is not None
        found = pidf_location(component.locationByValue)
        if found:
            return found
    return None


_CIVIC_STREET = ("HNO", "HNS", "PRD", "RD", "STS", "POD")
_CENTRED_SHAPES = frozenset({"Point", "Circle", "Ellipse", "ArcBand", "Sphere", "Ellipsoid"})
_DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _pidf_root(xml: str) -> ET.Element | None:
    """The parsed PIDF-LO, or None when it is not XML or declares a DTD (entities are refused)."""
    if _DTD.search(xml):
        return None
    try:
        # With no DTD there are no entities to expand, which is what makes XML parsing unsafe.
        return ET.fromstring(xml)  # noqa: S314
    except ET.ParseError:
        return None


def pidf_location(xml: str) -> dict[str, Any] | None:
    """``{"address", "lat", "lon"}`` (what is found) from a PIDF-LO document, or None.

    The first ``civicAddress`` (RFC 5139 elements) gives the address, as one line: place name,
    street (house number, suffix, pre-directional, road, street suffix, post-directional) or
    landmark, additional location, city, state and postal code, country; at most 500 characters.
    The first geodetic shape (GML, WGS84 latitude then longitude) gives the coordinates, when they
    are finite and in range.
    """
    root = _pidf_root(xml)
    if root is None:
        return None
    found: dict[str, Any] = {}
    for element in root.iter():
        name = _local(element.tag)
        if name == "civicAddress" and "address" not in found:
            address = _civic_line(element)
            if address:
                found["address"] = address[:_ADDRESS_MAX_CHARS].strip()
        elif (name in _CENTRED_SHAPES or name == "Polygon") and "lat" not in found:
            point = _shape_centre(element, polygon=name == "Polygon")
            if point:
                found["lat"], found["lon"] = point
    return found or None


def _civic_line(civic: ET.Element) -> str:
    values: dict[str, str] = {}
    for child in civic:
        text = " ".join((child.text or "").split())
        if text:
            values.setdefault(_local(child.tag), text)
    number = values.get("HNO", "") + values.get("HNS", "")
    street = " ".join(part for part in (number, *(values.get(k, "") for k in _CIVIC_STREET[2:])) if part)
    region = " ".join(part for part in (values.get("A1", ""), values.get("PC", "")) if part)
    parts = (
        values.get("NAM", ""),
        street or values.get("A6", "") or values.get("LMK", ""),
        values.get("LOC", ""),
        values.get("A3", ""),
        region,
        values.get("country", ""),
    )
    return ", ".join(part for part in parts if part)


def _shape_centre(shape: ET.Element, *, polygon: bool) -> tuple[float, float] | None:
    numbers: list[float] = []
    for element in shape.iter():
        if _local(element.tag) in ("pos", "posList") and element.text:
            try:
                numbers.extend(float(value) for value in element.text.split())
            except ValueError:
                return None
            if not polygon:
                break
    if polygon:
        # gml:pos per vertex carries two numbers (lat lon) here; a closed ring repeats its first.
        vertices = list(zip(numbers[0::2], numbers[1::2], strict=False))
        if len(vertices) > 1 and vertices[0] == vertices[-1]:
            vertices.pop()
        if not vertices:
            return None
        lat, lon = (sum(axis) / len(vertices) for axis in zip(*vertices, strict=True))
    elif len(numbers) >= 2:
        lat, lon = numbers[0], numbers[1]
    else:
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def receive_eido(session: Session, *, received: ReceivedEido, outbox: Outbox) -> ledger.Submitted:
    """Submit the call (``ledger.submit_call``) and keep the EIDO if it differs from the last one kept.

    Keeping one marks the call changed, so retention clears it even if it came after a purge.
    ChangeRefused as ``ledger.submit_call``.
    """
    submitted = ledger.submit_call(session, submission=received.submission, outbox=outbox)
    call = submitted.call
    last = session.exec(
        select(EidoDocument.document)
        .where(EidoDocument.call_id == call.call_id)
        .order_by(col(EidoDocument.id).desc())
        .limit(1)
    ).first()
    if last != received.document:
        now = utcnow()
        session.add(
            EidoDocument(
                call_id=call.call_id, eido_id=received.eido_id, received_at=now, document=received.document
            )
        )
        call.updated_at = now
        session.add(call)
    return submitted


# ---------------------------------------------------------------------------------------------
# Exporting

# primaryUnitStatusRegistryText of the assigned unit, by the call's status.
_UNIT_STATUS = {
    CallStatus.ASSIGNED: "Dispatched",
    CallStatus.EN_ROUTE: "Enroute",
    CallStatus.ON_SCENE: "OnScene",
    CallStatus.RESOLVED: "Available",
    CallStatus.CANCELLED: "Available",
}


def export_call(session: Session, call_id: UUID, *, agency_id: str) -> dict[str, Any]:
    """The call as an EIDO (``call_as_eido``), under the ``$id`` of the EIDO it came in as, if any.

    UnknownCall if there is no such call.
    """
    call = session.get(Call, str(call_id))
    if call is None:
        raise ledger.UnknownCall(str(call_id))
    eido_id = session.exec(
        select(EidoDocument.eido_id)
        .where(EidoDocument.call_id == call.call_id)
        .order_by(col(EidoDocument.id).desc())
        .limit(1)
    ).first()
    return call_as_eido(call, eido_id=eido_id, agency_id=agency_id)


def call_as_eido(call: Call, *, eido_id: str | None, agency_id: str) -> dict[str, Any]:
    """An EIDO 1.0 document (JSON-ready dict) of the call as the ledger has it.

    ``$id`` is ``eido_id`` when the call came as an EIDO, else
    ``urn:emergency:uid:incidentid:<call id hex>:<agency_id>``. ``agency_id`` authors every
    component; the issuing element is ``intake.<agency_id>``; component ids are UUIDs derived
    from the call id, so an export names its parts the same way each time. The incident carries
    the call type (``Unknown`` when none), the triage route (``incidentTypeInternalCode``) and
    explanation (``incidentTypeInternalText``), the priority, and the status (plus
    ``needs_review`` when triage held the call). With a location, a location component (PIDF-LO
    point; the address as ``locationDescriptionText``); with an assigned unit, a dispatch
    component and the unit as an emergency resource. No call text is exported.
    """
    call_uuid = UUID(call.call_id)
    stamp = call.updated_at.isoformat()

    def prologue(component_id: str) -> dict[str, Any]:
        return {
            "$id": component_id,
            "lastUpdateTimeStamp": stamp,
            "updatedByAgencyReference": {"$ref": agency_id},
        }

    def part(kind: str) -> str:
        return str(uuid5(call_uuid, kind))

    decision = json.loads(call.decision) if call.decision else {}
    statuses = [call.status] + (["needs_review"] if decision.get("needs_review") else [])
    incident: dict[str, Any] = {
        **prologue(part("incident")),
        "incidentTypeCommonRegistryText": call.call_type or "Unknown",
        "incidentStatusInternalText": statuses,
        "internalIncidentId": call.call_id,
    }
    if call.route:
        incident["incidentTypeInternalCode"] = call.route
    if decision.get("explanation"):
        incident["incidentTypeInternalText"] = decision["explanation"]
    if call.priority is not None:
        incident["incidentCommonPriorityNumber"] = call.priority
        incident["incidentPriorityInternalText"] = f"P{call.priority}"
    document: dict[str, Any] = {
        **prologue(eido_id or f"urn:emergency:uid:incidentid:{call_uuid.hex}:{agency_id}"),
        "eidoVersion": EIDO_VERSION,
        "issuingElementIdentification": f"intake.{agency_id}",
        "incidentComponent": incident,
        "agencyComponent": [
            {
                **prologue(agency_id),
                "agencyRoleDescriptionRegistryText": ["Dispatching"],
                "agencyType": ["psap"],
                "incidentOwningAgencyIndicator": True,
            }
        ],
    }
    location = _location_component(call, prologue(part("location")), entity=f"{call.call_id}@{agency_id}")
    if location:
        incident["locationReference"] = [{"$ref": location["$id"]}]
        document["locationComponent"] = [location]
    if call.assigned_unit_id:
        resource = {
            **prologue(part(f"unit:{call.assigned_unit_id}")),
            "emergencyResourceTypeCommonRegistryText": call.assigned_unit_type or "Unknown",
            "emergencyResourceName": call.assigned_unit_id,
            "primaryUnitStatusRegistryText": _UNIT_STATUS.get(CallStatus(call.status), "Dispatched"),
            "secondaryUnitStatusRegistryText": [],
            "resourceAttributeRegistryText": [],
            "agentReference": [],
        }
        document["emergencyResourceComponent"] = [resource]
        document["dispatchComponent"] = [
            {
                **prologue(part("dispatch")),
                "agencyReference": {"$ref": agency_id},
                "emergencyResourceReference": [{"$ref": resource["$id"]}],
            }
        ]
    return document


def _location_component(call: Call, prologue: dict[str, Any], *, entity: str) -> dict[str, Any] | None:
    if call.address is None and call.lat is None and call.lon is None:
        return None
    location: dict[str, Any] = {**prologue, "locationTypeDescriptionRegistryText": "Incident"}
    if call.lat is not None and call.lon is not None:
        location["locationByValue"] = _pidf_point(call.lat, call.lon, entity=entity)
    if call.address:
        location["locationDescriptionText"] = call.address
    return location


def _pidf_point(lat: float, lon: float, *, entity: str) -> str:
    """A PIDF-LO document (RFC 4119, RFC 5491) holding one WGS84 point."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
        f'xmlns:gml="http://www.opengis.net/gml" entity={quoteattr("pres:" + entity)}>'
        f'<tuple id="incident"><status><gp:geopriv><gp:location-info>'
        f'<gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>{escape(repr(lat))} {escape(repr(lon))}'
        "</gml:pos></gml:Point></gp:location-info><gp:usage-rules/></gp:geopriv></status></tuple></presence>"
    )
