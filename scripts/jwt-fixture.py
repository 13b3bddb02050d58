#!/usr/bin/env python3
"""Writes a JWKS and a signed token for load tests: `jwt-fixture.py DIR ALG` with ALG ES256
or RS256 writes DIR/jwks.json and DIR/token (valid for an hour, iss https://idp.bench, aud
api, sub bench). Needs the `cryptography` package (scripts/evidence-tools.sh installs it)."""
import base64
import json
import sys
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def num(n: int, size: int) -> str:
    return b64(n.to_bytes(size, "big"))


def main(out: str, alg: str) -> None:
    header = b64(json.dumps({"alg": alg, "kid": "bench", "typ": "JWT"}).encode())
    now = int(time.time())
    claims = {"iss": "https://idp.bench", "aud": "api", "sub": "bench", "iat": now, "exp": now + 3600}
    signing_input = f"{header}.{b64(json.dumps(claims).encode())}".encode()
    if alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        pub = key.public_key().public_numbers()
        jwk = {"kty": "EC", "crv": "P-256", "x": num(pub.x, 32), "y": num(pub.y, 32)}
    elif alg == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        pub = key.public_key().public_numbers()
        jwk = {"kty": "RSA", "n": num(pub.n, 256), "e": num(pub.e, 3)}
    else:
        sys.exit(f"unsupported {alg}")
    jwk.update({"kid": "bench", "alg": alg, "use": "sig"})
    with open(f"{out}/jwks.json", "w", encoding="utf-8") as f:
        json.dump({"keys": [jwk]}, f)
    with open(f"{out}/token", "w", encoding="utf-8") as f:
        f.write(f"{signing_input.decode()}.{b64(sig)}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
