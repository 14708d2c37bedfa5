"""Per-model license collection: what each author allowed, read conservatively, with evidence.

A training set rendered from other people's characters is only publishable under the terms of
every model in it, so each model gets a `LicenseRecord`: the license name and URL, the author,
the credit line to copy, and allow / forbid / unknown for redistribution, modification,
commercial, sexual, violent and political/religious use, each with the evidence that set it.

Pure Python (no Blender): `collect_license` reads the VRM meta, the PMX/PMD comments, the readme
and license files beside the model (up to the collection root) and a zip's text members; the
modules below each do one part of that; `model_license` is the one entry point every command
uses (a read `Model`'s inputs, the files beside it, the licenses file, the override), and
`LicenseTally` counts a collection. `unknown` is the default and never turns into allow;
when sources disagree the field is forbid. docs/licenses.md describes the rules and term table.
"""

from __future__ import annotations

from thagen.rigs.licenses.collect import collect_license, collect_url
from thagen.rigs.licenses.interpret import TextReading, interpret_text
from thagen.rigs.licenses.merge import build_record
from thagen.rigs.licenses.model_license import (
    LicenseInputs,
    license_inputs,
    model_license,
    read_model_license,
    unreadable_inputs,
)
from thagen.rigs.licenses.overrides import (
    LicenseFile,
    LicenseRule,
    apply_license_override,
    load_license_file,
    override_file_license,
    validate_license_mapping,
)
from thagen.rigs.licenses.records import (
    PERMISSION_FIELDS,
    Credit,
    Evidence,
    Finding,
    LicenseRecord,
    Permission,
    SourceText,
)
from thagen.rigs.licenses.tally import LicenseTally
from thagen.rigs.licenses.terms import TERMS
from thagen.rigs.licenses.vrm_meta import meta_from_gltf, vrm_meta_findings

__all__ = [
    "PERMISSION_FIELDS",
    "TERMS",
    "Credit",
    "Evidence",
    "Finding",
    "LicenseFile",
    "LicenseInputs",
    "LicenseRecord",
    "LicenseRule",
    "LicenseTally",
    "Permission",
    "SourceText",
    "TextReading",
    "apply_license_override",
    "build_record",
    "collect_license",
    "collect_url",
    "interpret_text",
    "license_inputs",
    "load_license_file",
    "meta_from_gltf",
    "model_license",
    "override_file_license",
    "read_model_license",
    "unreadable_inputs",
    "validate_license_mapping",
    "vrm_meta_findings",
]
