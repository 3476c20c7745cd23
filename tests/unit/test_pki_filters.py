"""The pki role's parser of openssl's certificate fields (served certificates, CA files)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[2] / "roles" / "pki" / "filter_plugins"
sys.path.insert(0, str(PLUGINS))

import pki_filters as pf


def test_x509_fields_read_openssl_output_with_an_issuer_holding_equals_signs():
    out = (
        "serial=5A1F03\n"
        "notAfter=Dec  2 19:30:00 2027 GMT\n"
        "issuer=CN=Fleet Tracing CA (lab) 2026-12-02T193000Z\n"
    )
    assert pf.pki_x509_fields(out) == {
        "serial": "5A1F03",
        "not_after": "Dec  2 19:30:00 2027 GMT",
        "issuer": "CN=Fleet Tracing CA (lab) 2026-12-02T193000Z",
    }


def test_x509_fields_name_what_is_missing_when_no_certificate_came_back():
    with pytest.raises(ValueError, match="issuer, not_after, serial"):
        pf.pki_x509_fields("unable to load certificate\n")
