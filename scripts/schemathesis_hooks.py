"""Schemathesis hooks of scripts/fuzz-api.sh: the one narrow exclusion.

A schema-valid request refused with 422 is a failure (ST202) unless every
failing field it names breaks a rule that no JSON Schema can state; those
rules are in the fields' descriptions, and the document says the rest
(types, lengths, ranges, patterns, enums, required). The codes below are
the server's own (`errors[].code` of the problem), so a 422 for anything
else, such as a length the document forgot, still fails the run.
"""

import re
import uuid

import schemathesis

IDEMPOTENCY_KEY = re.compile(r"^[!-~]{1,200}$")

# code -> why no schema can say it (None: any field; a set: only those fields)
UNSTATABLE = {
    # Opaque cursors and sync tokens are valid only if this server made them.
    "invalid_cursor": None,
    # Check digits: SIREN/SIRET Luhn, the key of a VAT number, a NIR's key.
    "invalid_checksum": None,
    # One field against another: a SIRET's first nine digits are the SIREN, a
    # French VAT number carries the SIREN, the body agrees with the path.
    "mismatch": None,
    "immutable": None,
    # A rule on several fields: a contact needs an email, a phone or a last
    # name; currency comes with annual_revenue_cents; a grant needs its proof.
    "required": None,
    "conflict": None,
    # References that must exist: client_id, contact_id, a purpose key.
    "not_found": None,
    "unknown_purpose": None,
    # Codes that have the documented shape but are not assigned (NAF, ISO
    # 3166 country, ISO 4217 currency, E.164 number plan).
    "unknown_code": None,
    # Dates against the clock (a birth date in the past, consent collected
    # before now).
    "in_future": None,
    "not_in_past": None,
    # A birth date from 1900 on (no JSON Schema keyword bounds a date).
    "out_of_range": {"birth_date"},
    # Deeper than a pattern: an email address (RFC 5321 and IDNA), a phone
    # number (a valid E.164 length for its country), a VAT number's national
    # format, a public https URL (no private or metadata address).
    "invalid_format": {"email", "phone", "customer.email", "customer.phone", "subject.email", "vat_number", "website", "callback_url", "url"},
    "url": {"url", "website", "callback_url", "proof.form_url"},
    # A field only one kind of request carries (changes: rectification).
    # A rectification may not set what only the controller records
    # (changes.provenance).
    "not_allowed": {"changes", "changes.provenance"},
    "insecure": {"url", "callback_url"},
    # custom_fields: at most 16 KiB serialised (bytes, not keys).
    "too_large": {"custom_fields"},
    # A checkpoint's signature must be one this service's key made.
    "invalid_signature": {"signature"},
    # Free text screened for special-category data (API.md §8).
    "sensitive_data": None,
    # Postgres text cannot hold NUL: refused in every string (API.md §3),
    # said once rather than as a pattern on each.
    "invalid_characters": None,
    # A data subject is named by exactly one of email or contact_id, a null
    # counting as absent (maxProperties would count the null).
    "invalid": {"subject", "recipient"},
    # A saved segment's resource is stored, not in the request: reachability
    # (`channel`, `purpose`) applies to the members of contact segments only.
    # An import's match_on and provenance must fit its resource (one
    # parameter against another).
    "not_applicable": {"channel", "match_on", "provenance"},
    # A segment filter holds at most 50 conditions across its whole tree: no
    # JSON Schema keyword counts across nesting levels.
    "too_many_conditions": {"filter"},
    # A batch upserts each (source, external_id) once: uniqueItems compares
    # whole items, no keyword compares one pair of fields across them.
    "duplicate": {"external_id"},
}


def _unstatable(error):
    allowed = UNSTATABLE.get(error.get("code"), False)
    if allowed is False:
        return False
    if allowed is None:
        return True
    field = error.get("field", "")
    # Batch items are `orders[i].field`, `recipients[i].field`, `data[i].field`.
    if field.startswith(("orders[", "recipients[", "data[")) and "]." in field:
        field = field.split("].", 1)[1]
    # A recipient names exactly one of contact_id, email, phone (nulls absent).
    if re.fullmatch(r"recipients\[\d+\]", field):
        field = "recipient"
    return field in allowed


def _outside_pattern(error, case):
    """A header the generator sent outside its documented pattern (seen
    with If-Match in the coverage phase): the request was not schema-valid."""
    field = error.get("field", "")
    if error.get("code") != "invalid_format" or field != "If-Match":
        return False
    value = (case.headers or {}).get(field)
    for param in case.operation.definition.raw.get("parameters", []):
        if param.get("name") == field and param.get("in") == "header":
            pattern = param.get("schema", {}).get("pattern")
            return value is not None and pattern is not None and re.search(pattern, value) is None
    return False


def _stored_resource(error, case):
    """A saved segment's new filter must fit the segment's resource, which is
    stored, not in the request: the document offers either resource's filter."""
    op = case.operation
    return (
        op.method.upper() == "PATCH"
        and op.path == "/v1/segments/{id}"
        and error.get("field", "").startswith("filter")
    )


def _import_file(error, case):
    """An import's body is a file: its columns are named in its first line
    and its provenance parameter is JSON text, neither of which a schema of
    a binary body or a string parameter can state."""
    op = case.operation
    field = error.get("field", "")
    return (
        op.method.upper() == "POST"
        and op.path == "/v1/imports"
        and (re.fullmatch(r"header(\[\d+\])?", field) is not None or field == "provenance" or field.startswith("provenance."))
    )


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keeps every failure except a 422 that names only unstatable rules."""
    if getattr(failure, "code", None) != "ST202" or response.status_code != 422:
        return True
    try:
        problem = response.json()
    except Exception:
        return True
    # The generator reuses an Idempotency-Key (say "0") with another body:
    # the 422 is the contract (API.md §3), no schema can forbid the reuse.
    if problem.get("type") == "/problems/idempotency-mismatch":
        return False
    errors = problem.get("errors") or []
    return not (errors and all(_unstatable(e) or _outside_pattern(e, case) or _stored_resource(e, case) or _import_file(e, case) for e in errors))


@schemathesis.hook
def map_headers(context, headers):
    """Makes each valid Idempotency-Key unique to its request.

    The generator draws keys from a tiny space ("0", "a"), so unrelated
    requests share one and the second gets the first's answer replayed, as
    the contract says (a create replayed after its resource was deleted then
    points at nothing). Real clients send one key per logical request; the
    replay itself is proven by tests/api/conventions.rs. Keys outside the
    documented pattern are left as generated, to stay negative data.
    """
    if headers:
        key = headers.get("Idempotency-Key")
        if isinstance(key, str) and IDEMPOTENCY_KEY.match(key):
            headers["Idempotency-Key"] = f"{key}-{uuid.uuid4().hex}"
    return headers
