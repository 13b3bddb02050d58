#!/usr/bin/env python3
"""Checks Barbacane's supply-chain documents with tools nobody on the team wrote.

  evidence-check.py sbom BOM.json
      validates a CycloneDX BOM against the official 1.6 JSON schema (cyclonedx-python-lib).
  evidence-check.py attestation ENVELOPE.json PUBLIC_KEY.pem ARTIFACT.bca
      verifies the DSSE envelope's signature (securesystemslib), parses the statement and its
      SLSA v1 provenance predicate with the in-toto-attestation protobuf bindings (unknown
      fields refused), and checks the subject digest against the artifact file.

Prints what it checked; exits 0 when everything holds, 1 otherwise. Installed by
scripts/evidence-tools.sh.
"""
import hashlib
import json
import sys


def check_sbom(path):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    with open(path, encoding="utf-8") as f:
        text = f.read()
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
    if errors:
        data = getattr(errors, "data", errors)
        for e in data if hasattr(data, "__iter__") and not isinstance(data, str) else [data]:
            print(f"schema error: {str(getattr(e, 'message', e)).splitlines()[0]}")
        return 1
    bom = json.loads(text)
    print(f"sbom: valid CycloneDX 1.6 ({len(bom.get('components', []))} components)")
    return 0


def check_attestation(envelope_path, key_path, artifact_path):
    from cryptography.hazmat.primitives import serialization
    from google.protobuf import json_format
    from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import Statement
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey

    with open(key_path, "rb") as f:
        public = serialization.load_pem_public_key(f.read())
    # securesystemslib's own key id for this key (the default from_crypto computes).
    key = SSlibKey.from_crypto(public)
    with open(envelope_path, encoding="utf-8") as f:
        envelope = Envelope.from_dict(json.load(f))
    verified = envelope.verify([key], 1)
    print(f"dsse: signature verified by key {', '.join(verified)}")
    if envelope.payload_type != "application/vnd.in-toto+json":
        print(f"wrong payloadType {envelope.payload_type}")
        return 1

    doc = json.loads(envelope.payload)
    pb = json_format.ParseDict(doc, statement_pb2.Statement())
    Statement.copy_from_pb(pb).validate()
    if doc["predicateType"] != "https://slsa.dev/provenance/v1":
        print(f"wrong predicateType {doc['predicateType']}")
        return 1
    predicate = json_format.ParseDict(doc["predicate"], provenance_pb2.Provenance())
    build = predicate.build_definition
    if not build.build_type or not predicate.run_details.builder.id:
        print("buildType and builder.id are required")
        return 1
    for dep in build.resolved_dependencies:
        ResourceDescriptor.copy_from_pb(dep).validate()
    with open(artifact_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    subjects = [s.digest.get("sha256") for s in pb.subject]
    if digest not in subjects:
        print(f"subject {subjects} is not the artifact's sha256 {digest}")
        return 1
    print(
        f"statement: in-toto v1, SLSA provenance v1, buildType {build.build_type}, "
        f"builder {predicate.run_details.builder.id}, "
        f"{len(build.resolved_dependencies)} resolved dependencies, subject matches"
    )
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "sbom":
        return check_sbom(argv[2])
    if len(argv) == 5 and argv[1] == "attestation":
        return check_attestation(argv[2], argv[3], argv[4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as e:  # any library refusal is a failed check, reported as such
        print(f"check failed: {type(e).__name__}: {e}")
        sys.exit(1)
