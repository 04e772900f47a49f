"""Examples of the EIDO routes' bodies for the OpenAPI document, written for this project.

``SUBMITTED`` is a short EIDO 1.0 (NENA-STA-021) a CAD could send: an incident type, two notes
and the incident's location in PIDF-LO (a circle and a civic address). ``NOTIFIED`` is the same
EIDO in a NENA-STA-024 ``notify`` message. ``EXPORTED`` is what ``GET /v1/calls/{call_id}/eido``
answers for that call once triage routed it co-response and unit CR-7 was assigned (the tests
check it against ``intake.eido.call_as_eido`` and NENA's schema). Every name, place and id is invented.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["EXPORTED", "NOTIFIED", "SUBMITTED", "SUBMIT_EXAMPLES"]

_AGENCY: Final = "psap.example.org"
_INCIDENT: Final = "urn:emergency:uid:incidentid:c41d9a0e2b7:psap.example.org"
_BY_AGENCY: Final = {"$ref": _AGENCY}

_INCIDENT_PIDF: Final = (
    '<?xml version="1.0"?><presence xmlns="urn:ietf:params:xml:ns:pidf" '
    'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml" '
    'xmlns:gs="http://www.opengis.net/pidflo/1.0" '
    'xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr" entity="pres:incident@psap.example.org">'
    '<tuple id="i"><status><gp:geopriv><gp:location-info><gs:Circle srsName="urn:ogc:def:crs:EPSG::4326">'
    '<gml:pos>47.6475 -122.3472</gml:pos><gs:radius uom="urn:ogc:def:uom:EPSG::9001">40</gs:radius>'
    "</gs:Circle><ca:civicAddress><ca:country>US</ca:country>"
    "<ca:A1>WA</ca:A1><ca:A3>Seattle</ca:A3><ca:NAM>Aurora Bridge</ca:NAM><ca:RD>Aurora</ca:RD>"
    "<ca:STS>Avenue</ca:STS><ca:POD>N</ca:POD></ca:civicAddress></gp:location-info>"
    "<gp:usage-rules/></gp:geopriv></status></tuple></presence>"
)
_POINT_PIDF: Final = (
    '<?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf" '
    'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml" '
    'entity="pres:3f2b8c1e-5a4d-4e6f-9b7a-1c2d3e4f5a6b@psap.example.org"><tuple id="incident"><status>'
    '<gp:geopriv><gp:location-info><gml:Point srsName="urn:ogc:def:crs:EPSG::4326">'
    "<gml:pos>47.6475 -122.3472</gml:pos></gml:Point></gp:location-info><gp:usage-rules/>"
    "</gp:geopriv></status></tuple></presence>"
)

SUBMITTED: Final[dict[str, Any]] = {
    "$id": _INCIDENT,
    "lastUpdateTimeStamp": "2026-11-29T22:46:02-08:00",
    "updatedByAgencyReference": _BY_AGENCY,
    "eidoVersion": "1.0",
    "issuingElementIdentification": "cad.psap.example.org",
    "incidentComponent": {
        "$id": "5e0f8d7c-1a2b-4c3d-8e9f-00a1b2c3d401",
        "lastUpdateTimeStamp": "2026-11-29T22:46:02-08:00",
        "updatedByAgencyReference": _BY_AGENCY,
        "incidentTypeCommonRegistryText": "Suicide",
        "locationReference": [{"$ref": "5e0f8d7c-1a2b-4c3d-8e9f-00a1b2c3d420"}],
    },
    "notesComponent": [
        {
            "$id": "5e0f8d7c-1a2b-4c3d-8e9f-00a1b2c3d411",
            "lastUpdateTimeStamp": "2026-11-29T22:45:15-08:00",
            "updatedByAgencyReference": _BY_AGENCY,
            "notesActionComments": "Caller driving past sees a man sitting on the bridge railing.",
        },
        {
            "$id": "5e0f8d7c-1a2b-4c3d-8e9f-00a1b2c3d412",
            "lastUpdateTimeStamp": "2026-11-29T22:46:02-08:00",
            "updatedByAgencyReference": _BY_AGENCY,
            "notesActionComments": "He says he is going to jump.",
        },
    ],
    "agencyComponent": [
        {
            "$id": _AGENCY,
            "lastUpdateTimeStamp": "2026-11-29T22:44:51-08:00",
            "updatedByAgencyReference": _BY_AGENCY,
            "agencyRoleDescriptionRegistryText": ["CallReceiving"],
            "agencyType": ["psap"],
        }
    ],
    "locationComponent": [
        {
            "$id": "5e0f8d7c-1a2b-4c3d-8e9f-00a1b2c3d420",
            "lastUpdateTimeStamp": "2026-11-29T22:45:30-08:00",
            "updatedByAgencyReference": _BY_AGENCY,
            "locationTypeDescriptionRegistryText": "Incident",
            "locationByValue": _INCIDENT_PIDF,
        }
    ],
}
"""A bare EIDO: the ``POST /v1/eido`` body a CAD sends for a new or changed incident."""

NOTIFIED: Final[dict[str, Any]] = {
    "event": {
        "subscriptionId": "sub-7d41",
        "transactionId": "0b6f3c2a-9e1d-4f5b-8a7c-2d3e4f5a6b7c",
        "notification": [SUBMITTED],
    }
}
"""The same EIDO as a NENA-STA-024 ``notify`` message: exactly one EIDO in ``notification``."""

SUBMIT_EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    "eido": {
        "summary": "A bare EIDO",
        "description": "An incident type, two notes (joined in time order as the narrative) "
        "and the incident's location (a circle and a civic address).",
        "value": SUBMITTED,
    },
    "notify": {
        "summary": "A NENA-STA-024 notify message carrying one EIDO",
        "description": "Read exactly like the bare EIDO it carries.",
        "value": NOTIFIED,
    },
}
"""``SUBMITTED`` and ``NOTIFIED`` as OpenAPI Example objects, by name."""

EXPORTED: Final[dict[str, Any]] = {
    "$id": _INCIDENT,
    "lastUpdateTimeStamp": "2026-11-29T06:46:03+00:00",
    "updatedByAgencyReference": _BY_AGENCY,
    "eidoVersion": "1.0",
    "issuingElementIdentification": "intake.psap.example.org",
    "incidentComponent": {
        "$id": "7f57e2c2-d4ce-505f-8183-8eab284bda6b",
        "lastUpdateTimeStamp": "2026-11-29T06:46:03+00:00",
        "updatedByAgencyReference": _BY_AGENCY,
        "incidentTypeCommonRegistryText": "Suicide",
        "incidentStatusInternalText": ["assigned"],
        "internalIncidentId": "3f2b8c1e-5a4d-4e6f-9b7a-1c2d3e4f5a6b",
        "incidentTypeInternalCode": "co_response",
        "incidentTypeInternalText": "Behavioral indicators (suicidal ideation) with high safety risk "
        "(self-directed lethal means): co-response team.",
        "incidentCommonPriorityNumber": 1,
        "incidentPriorityInternalText": "P1",
        "locationReference": [{"$ref": "ad19e10b-c665-51df-99c5-f30e7cc986fe"}],
    },
    "agencyComponent": [
        {
            "$id": _AGENCY,
            "lastUpdateTimeStamp": "2026-11-29T06:46:03+00:00",
            "updatedByAgencyReference": _BY_AGENCY,
            "agencyRoleDescriptionRegistryText": ["Dispatching"],
            "agencyType": ["psap"],
            "incidentOwningAgencyIndicator": True,
        }
    ],
    "locationComponent": [
        {
            "$id": "ad19e10b-c665-51df-99c5-f30e7cc986fe",
            "lastUpdateTimeStamp": "2026-11-29T06:46:03+00:00",
            "updatedByAgencyReference": _BY_AGENCY,
            "locationTypeDescriptionRegistryText": "Incident",
            "locationByValue": _POINT_PIDF,
            "locationDescriptionText": "Aurora Bridge, Aurora Avenue N, Seattle, WA, US",
        }
    ],
    "emergencyResourceComponent": [
        {
            "$id": "af8af24d-55c3-519b-875b-444c6ee8bba1",
            "lastUpdateTimeStamp": "2026-11-29T06:46:03+00:00",
            "updatedByAgencyReference": _BY_AGENCY,
            "emergencyResourceTypeCommonRegistryText": "co_response",
            "emergencyResourceName": "CR-7",
            "primaryUnitStatusRegistryText": "Dispatched",
            "secondaryUnitStatusRegistryText": [],
            "resourceAttributeRegistryText": [],
            "agentReference": [],
        }
    ],
    "dispatchComponent": [
        {
            "$id": "15c93a6a-7d87-51ce-ba18-5b06c4f84f79",
            "lastUpdateTimeStamp": "2026-11-29T06:46:03+00:00",
            "updatedByAgencyReference": _BY_AGENCY,
            "agencyReference": _BY_AGENCY,
            "emergencyResourceReference": [{"$ref": "af8af24d-55c3-519b-875b-444c6ee8bba1"}],
        }
    ],
}
"""The export of the call ``SUBMITTED`` made, triaged co-response, with unit CR-7 assigned."""
