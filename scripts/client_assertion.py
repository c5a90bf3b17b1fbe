"""Make a client key pair and sign SMART Backend Services client assertions (for oncopath's
`POST /oauth/token`, or any server following the same profile).

    python scripts/client_assertion.py keygen --private client-key.pem --jwks client-jwks.json [--alg ES384|RS384]
    python scripts/client_assertion.py sign --private client-key.pem --client-id ID \\
        --token-url https://oncopath.example.org/oauth/token [--alg ES384|RS384] [--lifetime 300]

`keygen` writes the private key (PEM, mode 0600) and the PUBLIC key set to register with
`oncopath client register --jwks client-jwks.json`. `sign` prints one assertion: iss = sub =
the client id, aud = the token URL, a fresh jti, exp = now + lifetime (at most 300 s), kid =
the key's RFC 7638 thumbprint. Uses PyJWT and cryptography (already oncopath dependencies).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


def public_jwk(private_key, alg: str) -> dict:
    public = private_key.public_key()
    jwk = json.loads((ECAlgorithm if alg == "ES384" else RSAAlgorithm).to_jwk(public))
    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


def keygen(args) -> int:
    key = ec.generate_private_key(ec.SECP384R1()) if args.alg == "ES384" else rsa.generate_private_key(65537, 3072)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(args.private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    with open(args.jwks, "w", encoding="utf-8") as fh:
        json.dump({"keys": [public_jwk(key, args.alg)]}, fh, indent=2)
    print(f"private key: {args.private} (keep it secret); public key set: {args.jwks}")
    return 0


def assertion(private_pem: bytes, *, client_id: str, token_url: str, alg: str = "ES384",
              lifetime: int = 300, now: float | None = None) -> str:
    key = serialization.load_pem_private_key(private_pem, password=None)
    now = time.time() if now is None else now
    claims = {"iss": client_id, "sub": client_id, "aud": token_url, "jti": uuid.uuid4().hex,
              "iat": int(now), "exp": int(now) + min(lifetime, 300)}
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": public_jwk(key, alg)["kid"], "typ": "JWT"})


def sign(args) -> int:
    with open(args.private, "rb") as fh:
        pem = fh.read()
    print(assertion(pem, client_id=args.client_id, token_url=args.token_url, alg=args.alg, lifetime=args.lifetime))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    k = sub.add_parser("keygen")
    k.add_argument("--private", required=True)
    k.add_argument("--jwks", required=True)
    k.add_argument("--alg", choices=["ES384", "RS384"], default="ES384")
    s = sub.add_parser("sign")
    s.add_argument("--private", required=True)
    s.add_argument("--client-id", required=True)
    s.add_argument("--token-url", required=True)
    s.add_argument("--alg", choices=["ES384", "RS384"], default="ES384")
    s.add_argument("--lifetime", type=int, default=300)
    args = parser.parse_args(argv)
    return keygen(args) if args.command == "keygen" else sign(args)


if __name__ == "__main__":
    sys.exit(main())
